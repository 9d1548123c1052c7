// Times logging metric points through the SDK's fluent layer, from the first `log` to the run's end
// (every point sent and the run FINISHED), then checks with the server that every point arrived.
//
//   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 .build/release/swiftflow-sdk-bench [points] [repeats]
import Foundation
import SwiftflowClient

let arguments = CommandLine.arguments
let points = arguments.count > 1 ? Int(arguments[1]) ?? 100_000 : 100_000
let repeats = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
let client = try MlflowClient()
var seconds: [Double] = []
for attempt in 1...repeats {
    let clock = ContinuousClock()
    var runId = ""
    var traffic = (points: 0, requests: 0)
    let elapsed = try await clock.measure {
        runId = try await Swiftflow.withRun(experiment: "sdk-bench", runName: "points-\(attempt)", client: client) { run in
            for step in 0..<points {
                try await run.log(metric: "loss", 1 / Double(step + 1), step: Int64(step))
            }
            try await run.flush()
            traffic = await run.metricTraffic
            return run.id
        }
    }
    let stored = try await client.getMetricHistory(runId: runId, key: "loss").count
    guard stored == points else {
        print("run \(runId): \(stored) of \(points) points stored")
        exit(1)
    }
    let value = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    seconds.append(value)
    print(String(format: "run %d: %d points in %.3f s (%d log-batch requests, %.0f points/s)",
                 attempt, points, value, traffic.requests, Double(points) / value))
}
let sorted = seconds.sorted()
print(String(format: "median %.3f s, best %.3f s, worst %.3f s over %d runs of %d points",
             sorted[sorted.count / 2], sorted.first!, sorted.last!, repeats, points))
