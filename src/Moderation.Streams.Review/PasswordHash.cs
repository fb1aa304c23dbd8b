using System.Security.Cryptography;
using System.Text;

namespace Moderation.Streams.Review;

/// <summary>Salted slow password hashes: PBKDF2-HMAC-SHA256 (<see cref="Rfc2898DeriveBytes.Pbkdf2(byte[], byte[], int, HashAlgorithmName, int)"/>)
/// written as <c>pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64</c>, so a file keeps verifying after the default changes.</summary>
public static class PasswordHash
{
    /// <summary>OWASP's figure for PBKDF2-HMAC-SHA256 (2023).</summary>
    public const int DefaultIterations = 600_000;

    /// <summary>Fewest iterations a stored hash may name (a file edited down to a fast hash is refused).</summary>
    public const int MinIterations = 10_000;

    private const int MaxIterations = 10_000_000;
    private const int SaltBytes = 16, HashBytes = 32;
    private const string Scheme = "pbkdf2-sha256";

    /// <summary>Longest password accepted (a megabyte password would be a cheap way to burn the server's CPU).</summary>
    public const int MaxPasswordChars = 1024;

    public static string Create(string password, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (iterations is < MinIterations or > MaxIterations) throw new ArgumentOutOfRangeException(nameof(iterations));
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Derive(password, salt, iterations);
        return $"{Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    /// <summary>Whether <paramref name="password"/> matches <paramref name="stored"/>, in time independent of where they differ.
    /// A malformed stored hash never matches.</summary>
    public static bool Verify(string password, string stored)
    {
        if (password is null || password.Length > MaxPasswordChars) return false;
        if (!TryParse(stored, out int iterations, out var salt, out var expected)) return false;
        return CryptographicOperations.FixedTimeEquals(Derive(password, salt, iterations), expected);
    }

    /// <summary>Spends the time of one verification, for an unknown user (so timing does not tell which names exist).</summary>
    public static void Waste(string password) => Derive(password ?? "", new byte[SaltBytes], DefaultIterations);

    public static bool IsWellFormed(string stored) => TryParse(stored, out _, out _, out _);

    private static bool TryParse(string stored, out int iterations, out byte[] salt, out byte[] hash)
    {
        iterations = 0; salt = []; hash = [];
        var parts = (stored ?? "").Split('$');
        if (parts.Length != 4 || parts[0] != Scheme) return false;
        if (!int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out iterations)
            || iterations is < MinIterations or > MaxIterations) return false;
        try
        {
            salt = Convert.FromBase64String(parts[2]);
            hash = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException)
        {
            return false;
        }
        return salt.Length >= 8 && hash.Length == HashBytes;
    }

    private static byte[] Derive(string password, byte[] salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
}
