"""Entry point of a folder without MLproject: run as `python hello.py`."""
import mlflow

with mlflow.start_run():
    mlflow.log_param("greeting", "hello from python")
    mlflow.log_metric("answer", 42)
    print("hello.py: logged")
