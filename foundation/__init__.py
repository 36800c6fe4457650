"""foundation: the ground floor every package may import, importing none of ours.

It holds what the whole service must agree on: the settings read from the environment
(`settings`), the JSON logging (`logs`), the API's error body (`errors`), and the vocabulary:
job states (`states`), the training hyperparameters (`hyperparameters`) and the measurement
limits and units.
Importing this package loads nothing; each module is imported on its own.
"""
