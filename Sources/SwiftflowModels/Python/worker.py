"""Model worker of `swiftflow models serve` / `models predict`.

Runs inside the model's Python environment. `serve MODEL_DIR` loads the model once, then answers
frames from the Swift server on stdin/stdout (4-byte little-endian length + payload):

  R <u32 content-type length | 0xFFFFFFFF for none> <content type> <body>
      a request exactly as received; answered by MLflow's own scoring code, so every status and
      error body is MLflow's.
  B <u32 header length> <header JSON> (<u32 length> <column bytes>)*
      one or more requests the server has already parsed and checked, as typed columns
      (f8/i8: little-endian float64/int64, b1: one byte per bool, s: a JSON list of strings).
      The header holds the column names and kinds, the row count of each request, the params and
      the index. The rows are stacked into one DataFrame and predicted in one call.

Every request frame is answered by one frame: <u32 count> then per request
<u16 status> <u8 media type length> <media type> <u32 body length> <body>. Status 0 asks the server
to send that request again as `R` (a typed batch failed; MLflow's code then words the error).

`predict MODEL_DIR INPUT OUTPUT CONTENT_TYPE` runs MLflow's `models predict` code path once.
"""

import os
import struct
import sys

# The protocol owns the original stdin/stdout; model code that prints must not corrupt it.
_proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
_proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
os.dup2(2, 1)
_devnull = os.open(os.devnull, os.O_RDONLY)
os.dup2(_devnull, 0)
sys.stdout = sys.stderr


def _read_exact(n):
    chunks = []
    while n:
        chunk = _proto_in.read(n)
        if not chunk:
            sys.exit(0)  # the server went away
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frame():
    (length,) = struct.unpack("<I", _read_exact(4))
    return _read_exact(length)


def _write_frame(payload):
    _proto_out.write(struct.pack("<I", len(payload)) + payload)


def _answers(results):
    parts = [struct.pack("<I", len(results))]
    for status, media_type, body in results:
        media = media_type.encode()
        parts.append(struct.pack("<HB", status, len(media)) + media + struct.pack("<I", len(body)) + body)
    return b"".join(parts)


def serve(model_dir):
    import json

    try:
        import mlflow.pyfunc.scoring_server as scoring
        from mlflow.environment_variables import _MLFLOW_IS_IN_SERVING_ENVIRONMENT
        from mlflow.exceptions import MlflowException
        from mlflow.version import VERSION

        model = scoring.load_model_with_mlflow_config(model_dir)
        input_schema = model.metadata.get_input_schema()
        os.environ[_MLFLOW_IS_IN_SERVING_ENVIRONMENT.name] = "true"
    except BaseException as e:  # noqa: BLE001 - reported to the server, which exits with it
        import traceback

        traceback.print_exc()
        _write_frame(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}).encode())
        return
    _write_frame(json.dumps({"ok": True, "mlflow_version": VERSION}).encode())

    import io

    import numpy as np
    import pandas as pd
    from mlflow.utils.proto_json_utils import cast_df_types_according_to_schema

    def raw(content_type, body):
        try:
            result = scoring.invocations(body, content_type, model, input_schema)
            return (result.status, result.mimetype, result.response.encode())
        except MlflowException as e:
            return (e.get_http_status_code(), "application/json", e.serialize_as_json().encode())
        except Exception:  # noqa: BLE001 - the reference's web framework answers these the same way
            import traceback

            traceback.print_exc()
            return (500, "text/plain", b"Internal Server Error")

    def column(kind, data):
        if kind == "f8":
            return np.frombuffer(data, dtype="<f8").copy()
        if kind == "i8":
            return np.frombuffer(data, dtype="<i8").copy()
        if kind == "b1":
            return np.frombuffer(data, dtype=np.bool_).copy()
        return json.loads(data)

    def rows(predictions, start, stop):
        if isinstance(predictions, (pd.DataFrame, pd.Series)):
            return predictions.iloc[start:stop]
        return predictions[start:stop]

    def batch(header, buffers):
        counts = header["counts"]
        total = sum(counts)
        frame = pd.DataFrame(
            {name: column(kind, data) for (name, kind), data in zip(header["columns"], buffers)},
            index=header.get("index"),
        )
        if input_schema is not None:
            frame = cast_df_types_according_to_schema(frame, input_schema)
        predictions = model.predict(frame, params=header.get("params"))
        if len(counts) == 1:
            out = io.StringIO()
            scoring.predictions_to_json(predictions, out)
            return [(200, "application/json", out.getvalue().encode())]
        if not hasattr(predictions, "__len__") or len(predictions) != total:
            return None
        results, start = [], 0
        for count in counts:
            out = io.StringIO()
            scoring.predictions_to_json(rows(predictions, start, start + count), out)
            results.append((200, "application/json", out.getvalue().encode()))
            start += count
        return results

    while True:
        payload = _read_frame()
        kind = payload[:1]
        if kind == b"R":
            (length,) = struct.unpack_from("<I", payload, 1)
            if length == 0xFFFFFFFF:
                content_type, body = None, payload[5:]
            else:
                content_type = payload[5 : 5 + length].decode("latin-1")
                body = payload[5 + length :]
            _write_frame(_answers([raw(content_type, body)]))
        elif kind == b"B":
            (length,) = struct.unpack_from("<I", payload, 1)
            header = json.loads(payload[5 : 5 + length])
            offset, buffers = 5 + length, []
            for _ in header["columns"]:
                (size,) = struct.unpack_from("<I", payload, offset)
                buffers.append(payload[offset + 4 : offset + 4 + size])
                offset += 4 + size
            try:
                results = batch(header, buffers)
            except Exception:  # noqa: BLE001 - the raw path words the error as MLflow does
                results = None
            if results is None:
                results = [(0, "", b"")] * len(header["counts"])
            _write_frame(_answers(results))
        else:
            sys.stderr.write(f"swiftflow worker: unknown frame kind {kind!r}\n")
            sys.exit(2)


def predict(model_dir, input_path, output_path, content_type):
    from mlflow.pyfunc import scoring_server

    scoring_server._predict(
        model_uri=model_dir,
        input_path=None if input_path == "-" else input_path,
        output_path=None if output_path == "-" else output_path,
        content_type=content_type,
    )


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "serve" and len(sys.argv) == 3:
        serve(sys.argv[2])
    elif command == "predict" and len(sys.argv) == 6:
        # predict writes to the real stdout when no output file is given.
        os.dup2(_proto_out.fileno(), 1)
        sys.stdout = os.fdopen(1, "w")
        predict(*sys.argv[2:])
    elif command == "version" and len(sys.argv) == 2:
        from mlflow.version import VERSION

        _write_frame(VERSION.encode())
    else:
        sys.stderr.write("usage: worker.py serve MODEL_DIR | predict MODEL_DIR INPUT OUTPUT CONTENT_TYPE\n")
        sys.exit(2)
