"""Application factory: settings, the store, the Celery client, the API and its blueprints."""

from __future__ import annotations

import logging
from importlib import metadata

from flask import Flask

from foundation.settings import Settings
from model_store import ModelStore
from service.api import Api, answer_redirects_in_json, register_store_error_handlers
from service.auth import install_auth
from service.blueprints import BLUEPRINTS
from service.body_limit import install_body_limit
from service.context import EXTENSION, Services
from service.converters import (
    AliasConverter,
    IdConverter,
    ModelIdConverter,
    alias_parameter_schema,
    id_parameter_schema,
)
from service.dashboard import blp as dashboard
from service.docs import configure_docs
from service.job_events import job_follower
from service.model_cache import ModelCache
from service.observability import install_observability
from service.openapi_errors import ErrorResponsesPlugin
from service.registry_events import event_tail
from service.schemas.aliases import AliasSetSchema
from service.schemas.batch_predictions import BatchPredictionRequestSchema
from service.schemas.datasets import DatasetCreateSchema
from service.schemas.fields import document_either_or, document_units
from service.schemas.predict import PREDICTION_COMPONENTS, PredictRequestSchema
from service.schemas.sweeps import document_sweeps
from service.schemas.train import TrainRequestSchema, document_hyperparameter_rules
from worker.celery_config import make_celery


def _version() -> str:
    try:
        return metadata.version("nnservice")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app from `settings` (default: read from the environment)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["NNSERVICE_SETTINGS"] = settings
    logging.getLogger("service").setLevel(settings.log_level)
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["model"] = ModelIdConverter
    app.url_map.converters["alias"] = AliasConverter
    app.url_map.strict_slashes = False
    # No redirect from `/jobs//events` to `/jobs/events`: an empty id is a 404 like any other.
    app.url_map.merge_slashes = False

    store = ModelStore.from_settings(settings)
    app.extensions[EXTENSION] = Services(
        settings=settings,
        store=store,
        celery=make_celery(settings),
        models=ModelCache(store),
        job_follower=job_follower(store),
        event_tail=event_tail(store),
    )
    install_body_limit(app, settings.max_body_bytes)  # WSGI middleware inside the next one
    install_observability(app, app.extensions[EXTENSION])  # request ids, metrics

    configure_docs(app, _version(), api_keys=bool(settings.api_keys))
    api = Api(app, spec_kwargs={"extra_plugins": [ErrorResponsesPlugin()]})
    api.register_converter(IdConverter, id_parameter_schema)
    api.register_converter(ModelIdConverter, id_parameter_schema)
    api.register_converter(AliasConverter, alias_parameter_schema)
    # The request bodies that their views load themselves (datasets: JSON, CSV or TSV).
    api.spec.components.schema("DatasetCreate", schema=DatasetCreateSchema)
    api.spec.components.schema("PredictRequest", schema=PredictRequestSchema)
    api.spec.components.schema("BatchPredictionRequest", schema=BatchPredictionRequestSchema)
    for component, schema in PREDICTION_COMPONENTS.items():  # the two forms of predictions
        api.spec.components.schema(component, schema=schema)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    schemas = api.spec.components.schemas
    document_either_or(schemas, "PredictRequest", PredictRequestSchema.SHAPES)
    document_either_or(schemas, "TrainRequest", TrainRequestSchema.SHAPES)
    document_hyperparameter_rules(schemas)
    document_either_or(schemas, "AliasSet", AliasSetSchema.SHAPES)
    document_sweeps(schemas)
    not_together = {"not": {"required": list(PredictRequestSchema.AT_MOST_ONE)}}
    schemas["PredictRequest"].setdefault("allOf", []).append(not_together)
    batch_not_together = {"not": {"required": list(BatchPredictionRequestSchema.AT_MOST_ONE)}}
    schemas["BatchPredictionRequest"].setdefault("allOf", []).append(batch_not_together)
    document_units(schemas, "PredictRequest", rows="instances", single=True, columns="inputs")
    document_units(schemas, "TrainRequest", rows="rows")
    document_units(schemas, "DatasetCreate", rows="rows")
    app.register_blueprint(dashboard)  # plain Flask: not part of the OpenAPI document
    register_store_error_handlers(app)
    answer_redirects_in_json(app)
    install_auth(app, settings)
    return app
