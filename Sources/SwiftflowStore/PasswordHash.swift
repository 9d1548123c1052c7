import Crypto
import Foundation
import NIOPosix
import SwiftflowCore
import _CryptoExtras

/// Slow salted password hashes, written in werkzeug's `method$salt$hex` format: the one MLflow's
/// basic-auth app stores, so users moved in from MLflow keep their passwords.
///
/// New hashes are PBKDF2-HMAC-SHA256 with 600,000 iterations (OWASP's figure for it); werkzeug's own
/// `scrypt:N:r:p` and `pbkdf2:sha256:N` hashes verify too.
package enum PasswordHash {
    /// PBKDF2 iterations of new hashes.
    package static let iterations = 600_000

    /// `make`, on the thread pool: a hash costs tens of milliseconds of one core, which must not stall
    /// an event loop.
    package static func hashed(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { make(password) }
    }

    /// `verify`, on the thread pool.
    package static func matches(_ password: String, _ stored: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { verify(password, against: stored) }
    }

    /// A new hash of `password` with a fresh random salt.
    package static func make(_ password: String, iterations: Int = iterations) -> String {
        let salt = randomSalt()
        let key = pbkdf2(password, salt: salt, iterations: iterations)
        return "pbkdf2:sha256:\(iterations)$\(salt)$\(Hex.encode(key))"
    }

    /// Whether `password` matches `stored`, compared in constant time. An unreadable hash matches nothing.
    package static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let expected = Hex.decode(parts[2]) else { return false }
        let method = parts[0].split(separator: ":")
        let salt = String(parts[1])
        let derived: [UInt8]?
        switch method.first {
        case "pbkdf2":
            // werkzeug writes pbkdf2:HASH:ITERATIONS; the key is as long as the hash's digest.
            guard method.count == 3, method[1] == "sha256", let rounds = Int(method[2]),
                rounds > 0, rounds <= 10_000_000
            else { return false }
            derived = pbkdf2(password, salt: salt, iterations: rounds)
        case "scrypt":
            // werkzeug: scrypt[:N:r:p], a 64-byte key.
            let numbers = method.dropFirst().map { Int($0) }
            let (n, r, p) = numbers.count == 3 ? (numbers[0], numbers[1], numbers[2]) : (32768, 8, 1)
            guard let n, let r, let p, n > 1, n <= 1 << 20, r > 0, r <= 32, p > 0, p <= 16 else { return false }
            derived = try? KDF.Scrypt.deriveKey(
                from: Array(password.utf8), salt: Array(salt.utf8), outputByteCount: 64,
                rounds: n, blockSize: r, parallelism: p, maxMemory: 132 * n * r * p
            ).withUnsafeBytes { Array($0) }
        default:
            derived = nil
        }
        guard let derived else { return false }
        return constantTimeEqual(derived, expected)
    }

    /// Compares two byte strings in time that depends only on their lengths.
    package static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    // MARK: - Pieces

    private static func pbkdf2(_ password: String, salt: String, iterations: Int) -> [UInt8] {
        // Only fails for an unknown hash function or a zero output length, neither possible here.
        let key = try! KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: Array(salt.utf8), using: .sha256, outputByteCount: 32,
            unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }

    /// 16 characters from [A-Za-z0-9], as werkzeug's `gen_salt(16)`.
    private static func randomSalt() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }
}
