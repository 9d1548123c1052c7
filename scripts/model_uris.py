"""Loads one pyfunc model through every model URI form the official client resolves through a server.

    python scripts/model_uris.py URL

Logs a model with `mlflow.pyfunc.log_model` (registered as a new model), gives version 1 the stage
Production and the alias champion, then loads `models:/name/1`, `models:/name@champion`,
`models:/name/Production`, `models:/name/latest`, `models:/<model_id>` and `runs:/<run_id>/model`
and checks each predicts the same. Exits 1 on the first failure.
"""
import sys
import time
import warnings

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.tracking import MlflowClient


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] * 2


def main():
    warnings.filterwarnings("ignore")
    mlflow.set_tracking_uri(sys.argv[1])
    name = f"uri-check-{int(time.time() * 1000)}"
    mlflow.set_experiment(name)
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=Doubler(), registered_model_name=name)
    client = MlflowClient()
    client.transition_model_version_stage(name, "1", "Production")
    client.set_registered_model_alias(name, "champion", "1")
    frame = pd.DataFrame({"x": [1, 2, 3]})
    uris = [f"models:/{name}/1", f"models:/{name}@champion", f"models:/{name}/Production",
            f"models:/{name}/latest", f"models:/{info.model_id}", f"runs:/{run.info.run_id}/model"]
    for uri in uris:
        got = list(mlflow.pyfunc.load_model(uri).predict(frame))
        if got != [2, 4, 6]:
            print(f"model URIs: {uri} predicted {got}, expected [2, 4, 6]")
            sys.exit(1)
    print(f"model URIs: {len(uris)} forms load and predict the same")


if __name__ == "__main__":
    main()
