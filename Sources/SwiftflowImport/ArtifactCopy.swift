import Foundation
import SwiftflowCore

/// Copies the folders behind `mlflow-artifacts:/` locations from the source server's artifact
/// destination to ours. Files already there with the same size are left alone, so a rerun (or a
/// run after a kill) copies only what is missing.
struct ArtifactCopy {
    let from: String
    let to: String

    struct Counts {
        var files = 0
        var bytes: Int64 = 0
        var present = 0
    }

    /// The path under the artifact destination that a `mlflow-artifacts:` location names, or nil for
    /// another kind of location (those stay where they are).
    static func relativePath(_ location: String) -> String? {
        guard location.hasPrefix("mlflow-artifacts:") else { return nil }
        var rest = location.dropFirst("mlflow-artifacts:".count)
        if rest.hasPrefix("//") {
            // mlflow-artifacts://host:port/path
            rest = rest.dropFirst(2)
            guard let slash = rest.firstIndex(of: "/") else { return "" }
            rest = rest[slash...]
        }
        return String(rest.drop { $0 == "/" })
    }

    func copy(locations: [String]) throws -> Counts {
        var counts = Counts()
        let manager = FileManager.default
        let paths = Set(locations.compactMap(Self.relativePath)).sorted()
        // A location inside another is copied with it.
        let roots = paths.filter { path in !paths.contains { $0 != path && ($0.isEmpty || path.hasPrefix($0 + "/")) } }
        for root in roots {
            if root.split(separator: "/").contains("..") {
                throw SwiftflowError.invalidParameter("The artifact location '\(root)' leaves the artifact folder.")
            }
            let source = root.isEmpty ? from : (from as NSString).appendingPathComponent(root)
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            guard let enumerator = manager.enumerator(atPath: source) else { continue }
            while let relative = enumerator.nextObject() as? String {
                let sourcePath = (source as NSString).appendingPathComponent(relative)
                let targetPath = ((root.isEmpty ? to : (to as NSString).appendingPathComponent(root)) as NSString)
                    .appendingPathComponent(relative)
                let attributes = try manager.attributesOfItem(atPath: sourcePath)
                if attributes[.type] as? FileAttributeType == .typeDirectory {
                    try manager.createDirectory(atPath: targetPath, withIntermediateDirectories: true)
                    continue
                }
                let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
                if let there = try? manager.attributesOfItem(atPath: targetPath),
                   (there[.size] as? NSNumber)?.int64Value == size
                {
                    counts.present += 1
                    continue
                }
                try manager.createDirectory(
                    atPath: (targetPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                // Written beside and renamed, so a killed copy never leaves a short file that looks done.
                let partial = targetPath + ".swiftflow-partial"
                try? manager.removeItem(atPath: partial)
                try? manager.removeItem(atPath: targetPath)
                try manager.copyItem(atPath: sourcePath, toPath: partial)
                try manager.moveItem(atPath: partial, toPath: targetPath)
                counts.files += 1
                counts.bytes += size
            }
        }
        return counts
    }
}
