using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Moderation.Streams.Review;

/// <summary>
/// The users file (<c>Review:UsersFile</c>): <c>{"users":[{"name":…,"role":"reviewer|admin","password_hash":…}]}</c>,
/// written by <c>moderation review user add</c> with mode 0600. Read again when it changes, so adding a user needs no restart.
/// </summary>
/// <remarks>HTTP Basic sends the password with every API call and PBKDF2 costs ~0.1–0.3 s by design: a verified
/// (name, password) pair is remembered for <see cref="VerifiedFor"/> as an HMAC under a key that lives only in this process,
/// so a script's calls cost one slow hash, and a changed password or removed user takes effect at once (the entry is keyed
/// by the stored hash too).</remarks>
public sealed class ReviewUsers
{
    public static readonly TimeSpan VerifiedFor = TimeSpan.FromMinutes(5);
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _verified = new();
    private (DateTime Stamp, long Length, IReadOnlyDictionary<string, ReviewUser> Users) _loaded = (default, -1, new Dictionary<string, ReviewUser>());
    private readonly Lock _gate = new();

    public ReviewUsers(string path, TimeProvider? time = null)
    {
        _path = Path.GetFullPath(path);
        _time = time ?? TimeProvider.System;
    }

    public string FilePath => _path;

    /// <summary>Why the file could not be read the last time it changed (then nobody can log in), or null.</summary>
    public string? Problem { get; private set; }

    /// <summary>The users now on file (re-read when the file changed); a missing or unreadable file is no users.</summary>
    public IReadOnlyDictionary<string, ReviewUser> Current
    {
        get
        {
            // Kubernetes swaps a mounted Secret through a symbolic link: compare the file it points to, not the link.
            FileSystemInfo info = new FileInfo(_path);
            try
            {
                if (info.Exists && info.LinkTarget is not null) info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
            }
            catch (IOException)
            {
            }
            lock (_gate)
            {
                if (!info.Exists)
                {
                    Problem = $"{_path} does not exist (moderation review user add NAME --role reviewer|admin)";
                    _loaded = (default, -1, new Dictionary<string, ReviewUser>());
                    return _loaded.Users;
                }
                long length = info is FileInfo f ? f.Length : -1;
                if (info.LastWriteTimeUtc == _loaded.Stamp && length == _loaded.Length) return _loaded.Users;
                try
                {
                    _loaded = (info.LastWriteTimeUtc, length, Read(_path));
                    Problem = null;
                }
                catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
                {
                    Problem = e.Message;
                    _loaded = (info.LastWriteTimeUtc, length, new Dictionary<string, ReviewUser>());
                }
                return _loaded.Users;
            }
        }
    }

    /// <summary>The user when <paramref name="password"/> is theirs; null otherwise (same cost for an unknown name).</summary>
    public ReviewUser? Authenticate(string name, string password)
    {
        if (string.IsNullOrEmpty(name) || password is null || password.Length > PasswordHash.MaxPasswordChars) return null;
        if (!Current.TryGetValue(name, out var user))
        {
            PasswordHash.Waste(password);
            return null;
        }
        var token = Token(user, password);
        var now = _time.GetUtcNow();
        if (_verified.TryGetValue(token, out var until) && until > now) return user;
        if (!PasswordHash.Verify(password, user.PasswordHash)) return null;
        if (_verified.Count > 10_000) _verified.Clear();
        _verified[token] = now + VerifiedFor;
        return user;
    }

    private string Token(ReviewUser user, string password) =>
        Convert.ToBase64String(HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes($"{user.Name}\n{user.PasswordHash}\n{password}")));

    /// <summary>Adds or replaces <paramref name="name"/> in the file at <paramref name="path"/> (created 0600).</summary>
    /// <exception cref="ArgumentException">A bad name or role.</exception>
    /// <exception cref="InvalidDataException">The existing file is not a users file.</exception>
    public static bool AddOrReplace(string path, string name, string role, string password, int iterations = PasswordHash.DefaultIterations)
    {
        if (!IsValidName(name)) throw new ArgumentException("a user name is 1-64 characters of letters, digits, '.', '_', '-' and '@'", nameof(name));
        if (!ReviewRoles.IsRole(role)) throw new ArgumentException("role must be reviewer or admin", nameof(role));
        if (string.IsNullOrEmpty(password)) throw new ArgumentException("the password is empty", nameof(password));
        if (password.Length > PasswordHash.MaxPasswordChars) throw new ArgumentException($"the password is over {PasswordHash.MaxPasswordChars} characters", nameof(password));
        var users = File.Exists(path) ? Read(path).Values.ToList() : [];
        bool replaced = users.RemoveAll(u => u.Name == name) > 0;
        users.Add(new ReviewUser(name, role, PasswordHash.Create(password, iterations)));
        var json = JsonSerializer.SerializeToUtf8Bytes(new UsersFileJson { Users = [.. users.OrderBy(u => u.Name, StringComparer.Ordinal)] }, Json);
        var full = System.IO.Path.GetFullPath(path);
        var temp = full + ".tmp";
        var create = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temp, create))
        {
            stream.Write(json);
        }
        File.Move(temp, full, overwrite: true);
        return replaced;
    }

    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@');

    /// <exception cref="InvalidDataException">Not a users file.</exception>
    public static IReadOnlyDictionary<string, ReviewUser> Read(string path)
    {
        UsersFileJson? file;
        try
        {
            file = JsonSerializer.Deserialize<UsersFileJson>(File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a users file ({e.Message})", e);
        }
        var users = new Dictionary<string, ReviewUser>(StringComparer.Ordinal);
        foreach (var u in file?.Users ?? [])
        {
            if (u is null || !IsValidName(u.Name) || !ReviewRoles.IsRole(u.Role) || !PasswordHash.IsWellFormed(u.PasswordHash))
                throw new InvalidDataException($"{path}: an entry is not a valid user (name, role reviewer|admin, password_hash)");
            users[u.Name] = u;
        }
        return users;
    }

    private sealed class UsersFileJson
    {
        public List<ReviewUser> Users { get; set; } = [];
    }
}
