// The SDK's entities (Run, Metric, ModelVersion…) and its error type live in SwiftflowCore; an app that
// imports SwiftflowClient gets them too.
@_exported import SwiftflowCore
