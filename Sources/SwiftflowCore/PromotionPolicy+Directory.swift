import Foundation

extension PromotionPolicy {
    /// Reads every `.yaml` / `.yml` file of `directory` (not its subfolders) as a policy, keyed by the
    /// model it names.
    /// - Throws: `INVALID_PARAMETER_VALUE` naming the file for an unreadable folder or file, a bad
    ///   policy, a policy without `model`, or two policies for one model.
    public static func loadDirectory(_ directory: String) throws(SwiftflowError) -> [String: PromotionPolicy] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw .invalidParameter("Cannot read the registry policy folder '\(directory)': \(error.localizedDescription)")
        }
        var policies: [String: PromotionPolicy] = [:]
        var files: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = (directory as NSString).appendingPathComponent(name)
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw .invalidParameter("Cannot read the registry policy '\(path)': \(error.localizedDescription)")
            }
            let policy: PromotionPolicy
            do {
                policy = try parse(yaml: text)
            } catch {
                throw .invalidParameter("\(path): \(error.message)")
            }
            guard let model = policy.model else {
                throw .invalidParameter("\(path): a policy in a policy folder must name its `model`.")
            }
            if let other = files[model] {
                throw .invalidParameter("\(path): model '\(model)' already has a policy, in \(other).")
            }
            policies[model] = policy
            files[model] = path
        }
        return policies
    }
}
