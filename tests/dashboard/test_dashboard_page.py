"""The dashboard page and its files, in process: served without a key, shipped in the package,
no build step, no CDN, and no HTML built from data."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from stores import migrated

from foundation.hyperparameters import HYPERPARAMETERS
from foundation.settings import Settings
from service import create_app

SERVICE = Path(__file__).resolve().parents[2] / "service"
STATIC = SERVICE / "static"
PYPROJECT = SERVICE.parent / "pyproject.toml"


def make_client(tmp_path: Path, **settings: object) -> FlaskClient:
    base = Settings(redis_url="redis://127.0.0.1:9/0", store_path=tmp_path / "store")
    return create_app(migrated(base.model_copy(update=settings))).test_client()


def test_the_page_loads_its_modules_and_the_vendored_chart_library(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'type="module" src="/static/js/main.js"' in html
    assert "/static/vendor/uPlot.iife.min.js" in html
    assert 'id="key-form"' not in html  # no keys configured: nothing to paste
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no CDN, no external URL"
    for path in ("/static/js/main.js", "/static/vendor/uPlot.iife.min.js", "/static/dashboard.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_the_training_and_sweep_forms_have_a_field_for_every_hyperparameter(
    tmp_path: Path,
) -> None:
    html = make_client(tmp_path).get("/").get_data(as_text=True)
    names = sorted(each.name for each in HYPERPARAMETERS)
    for form in ("train-form", "sweep-form"):
        body = html[html.index(f'<form id="{form}"') :]
        body = body[: body.index("</form>")]
        fields = re.findall(r'data-hyperparameter="([a-z_]+)"', body)
        assert sorted(fields) == names, form
    assert len(re.findall(r"data-hyperparameter=", html)) == 2 * len(names)


def test_with_keys_the_page_and_its_files_are_open_and_ask_for_a_key(tmp_path: Path) -> None:
    client = make_client(tmp_path, api_keys=("k1",), public_reads=False)
    page = client.get("/")
    assert page.status_code == 200 and 'id="key-form"' in page.get_data(as_text=True)
    script = client.get("/static/js/api.js")
    assert script.status_code == 200
    script.close()
    assert client.get("/datasets").status_code == 401
    assert client.get("/datasets", headers={"Authorization": "Bearer k1"}).status_code == 200


def test_every_module_import_resolves_to_a_shipped_file() -> None:
    modules = sorted((STATIC / "js").glob("*.js"))
    assert {m.name for m in modules} >= {"main.js", "api.js", "events.js", "chart.js", "dom.js"}
    for module in modules:
        for target in re.findall(r'^import .* from "(\./[^"]+)";$', module.read_text(), re.M):
            assert (module.parent / target).is_file(), f"{module.name} imports {target}"


@pytest.mark.parametrize("module", sorted(p.name for p in (STATIC / "js").glob("*.js")))
def test_modules_never_turn_data_into_html(module: str) -> None:
    source = (STATIC / "js" / module).read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, f"{module} uses {sink}: build nodes with dom.js instead"


def test_static_files_and_templates_are_package_data() -> None:
    package_data = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]
    shipped = {
        path
        for package, patterns in package_data.items()
        for pattern in patterns
        for path in SERVICE.parent.joinpath(*package.split(".")).glob(pattern)
    }
    files = [p for folder in ("static", "templates") for p in (SERVICE / folder).rglob("*")]
    missing = [str(p.relative_to(SERVICE)) for p in files if p.is_file() and p not in shipped]
    assert files and not missing, f"not in the wheel: {missing}"
    assert (STATIC / "vendor" / "uPlot.LICENSE").is_file()


def test_every_python_package_is_listed_for_the_wheel() -> None:
    """The package list is explicit (flat layout): a subpackage left out is missing from the
    wheel and from the Docker image, which installs the wheel."""
    listed = set(tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(SERVICE.parent).parts)
        for top in listed
        if "." not in top
        for init in (SERVICE.parent / top).rglob("__init__.py")
    }
    assert found <= listed, f"not in [tool.setuptools] packages: {sorted(found - listed)}"
