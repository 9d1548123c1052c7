// Fits y = w·x + b by gradient descent in pure Swift and tracks it with Swiftflow's SDK:
// params, the loss at every step, the fitted model as an artifact, and a registered model version.
//
//   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 swift run -c release linear-regression
import Foundation
import SwiftflowClient

/// A small deterministic generator, so that every run sees the same data.
struct LinearCongruential {
    var state: UInt64
    mutating func next() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / Double(1 << 53)
    }
}

let samples = 200
let learningRate = 0.05
let epochs = 500
var random = LinearCongruential(state: 42)
let xs = (0..<samples).map { _ in random.next() * 4 - 2 }
let ys = xs.map { 3 * $0 + 2 + (random.next() - 0.5) * 0.4 }   // true w = 3, b = 2, some noise

func meanSquaredError(_ w: Double, _ b: Double) -> Double {
    zip(xs, ys).map { x, y in (w * x + b - y) * (w * x + b - y) }.reduce(0, +) / Double(samples)
}

let client = try MlflowClient()   // MLFLOW_TRACKING_URI, credentials and retries from the environment
let outcome = try await Swiftflow.withRun(experiment: "linear-regression", runName: "gradient-descent",
                                          client: client) { run in
    try await run.log(params: ["learning_rate": "\(learningRate)", "epochs": "\(epochs)", "samples": "\(samples)"])
    var w = 0.0, b = 0.0
    for epoch in 0..<epochs {
        var gradW = 0.0, gradB = 0.0
        for (x, y) in zip(xs, ys) {
            let error = w * x + b - y
            gradW += 2 * error * x / Double(samples)
            gradB += 2 * error / Double(samples)
        }
        w -= learningRate * gradW
        b -= learningRate * gradB
        // Queued and sent in batches in the background: 500 steps × 3 metrics are a handful of requests.
        try await run.log(metrics: ["mse": meanSquaredError(w, b), "w": w, "b": b], step: Int64(epoch))
    }
    let mse = meanSquaredError(w, b)
    let model = #"{"type": "linear", "w": \#(w), "b": \#(b), "mse": \#(mse)}"#
    try await run.log(text: model + "\n", artifactFile: "model/weights.json")
    try await run.setTag("model.kind", "linear")
    return (run: run.id, w: w, b: b, mse: mse)
}

// A version of the registered model "linear-regression" (created the first time) points at the run's model.
if (try? await client.getRegisteredModel(name: "linear-regression")) == nil {
    try await client.createRegisteredModel(name: "linear-regression", description: "y = w·x + b, fitted in Swift")
}
let version = try await client.createModelVersion(
    name: "linear-regression", source: "runs:/\(outcome.run)/model", runId: outcome.run
).version
print(String(format: "Run %@ finished: w=%.3f b=%.3f mse=%.4f; registered linear-regression version %lld",
             outcome.run, outcome.w, outcome.b, outcome.mse, version))
