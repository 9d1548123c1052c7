import Foundation

/// The basic-auth app's settings: MLflow's `basic_auth.ini` (its `[mlflow]` section, read from
/// `MLFLOW_AUTH_CONFIG_PATH`), with MLflow's defaults, plus Swiftflow's failed-login throttle in an
/// optional `[swiftflow]` section.
public struct AuthConfig: Sendable, Equatable {
    /// What a user may do on a resource they hold no grant on.
    public var defaultPermission: Permission
    /// Where the users and grants are kept.
    public var databaseURI: String
    public var adminUsername: String
    public var adminPassword: String
    /// Accepted for compatibility; only MLflow's Basic authentication is implemented.
    public var authorizationFunction: String
    /// Failed logins in a row, per username and per client address, before further attempts are refused.
    public var maxFailedLogins: Int
    /// How long the first refusal lasts; each further failure doubles it, up to 15 minutes.
    public var lockoutSeconds: Int

    /// The password older MLflow versions shipped in their ini; refused, as MLflow 3 refuses it.
    public static let defaultAdminPassword = "password1234"
    public static let defaultAuthorizationFunction = "mlflow.server.auth:authenticate_request_basic_auth"

    public init(
        defaultPermission: Permission = .read, databaseURI: String = "sqlite:///basic_auth.db",
        adminUsername: String = "admin", adminPassword: String = "",
        authorizationFunction: String = AuthConfig.defaultAuthorizationFunction,
        maxFailedLogins: Int = 5, lockoutSeconds: Int = 30
    ) {
        self.defaultPermission = defaultPermission
        self.databaseURI = databaseURI
        self.adminUsername = adminUsername
        self.adminPassword = adminPassword
        self.authorizationFunction = authorizationFunction
        self.maxFailedLogins = maxFailedLogins
        self.lockoutSeconds = lockoutSeconds
    }

    /// Reads an ini file's text: `[section]` headers, `key = value` or `key: value` lines, `#` and `;`
    /// comment lines, as Python's configparser reads MLflow's file. Unknown keys are ignored.
    /// - Throws: `INVALID_PARAMETER_VALUE` for an unknown permission or a malformed number.
    public static func parse(ini text: String) throws(SwiftflowError) -> AuthConfig {
        var config = AuthConfig()
        var section = ""
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let separator = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else { continue }
            let key = line[..<separator].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: separator)...].trimmingCharacters(in: .whitespaces)
            switch (section, key) {
            case ("mlflow", "default_permission"): config.defaultPermission = try Permission.parse(value)
            case ("mlflow", "database_uri"): config.databaseURI = value
            case ("mlflow", "admin_username"): config.adminUsername = value
            case ("mlflow", "admin_password"): config.adminPassword = value
            case ("mlflow", "authorization_function"): config.authorizationFunction = value
            case ("swiftflow", "max_failed_logins"): config.maxFailedLogins = try number(key, value)
            case ("swiftflow", "lockout_seconds"): config.lockoutSeconds = try number(key, value)
            default: continue
            }
        }
        return config
    }

    private static func number(_ key: String, _ value: String) throws(SwiftflowError) -> Int {
        guard let number = Int(value), number > 0 else {
            throw .invalidParameter("\(key) must be a positive whole number, not '\(value)'.")
        }
        return number
    }
}
