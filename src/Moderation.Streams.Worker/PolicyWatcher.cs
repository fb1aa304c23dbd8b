using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Worker;

/// <summary>
/// Keeps the running policy in step with its file: a <see cref="FileSystemWatcher"/> reacts to edits at once
/// and a periodic content-hash check catches what it misses (Kubernetes ConfigMaps change by swapping a
/// symlink, network file systems raise no events). A changed file is parsed and validated first; only a valid
/// policy that needs the models already loaded (<paramref name="accept"/>) replaces the current one, in one
/// reference swap, so each upload is decided by one whole policy. A refused file is logged once and the running
/// policy stays — including a half-written file, whose completed version is picked up by the next event.
/// </summary>
public sealed class PolicyWatcher : IDisposable
{
    private readonly string _path;
    private readonly Func<Policy, string?> _accept;
    private readonly IReadOnlyCollection<string>? _knownModels;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly FileSystemWatcher? _watcher;
    private readonly ITimer? _timer;
    private Policy _current;
    private byte[] _lastHash;
    private long _reloads, _rejected;

    /// <summary>Loads the file (it must be valid: a worker does not start on a broken policy) and starts watching it.</summary>
    /// <param name="accept">Returns why a valid policy cannot be applied by this process (e.g. it names other models), or null.</param>
    /// <param name="checkInterval">Hash check period; <see cref="Timeout.InfiniteTimeSpan"/> = events and <see cref="CheckNow"/> only.</param>
    /// <exception cref="InvalidDataException">The file is invalid.</exception>
    public PolicyWatcher(string path, ILogger logger, Func<Policy, string?>? accept = null, IReadOnlyCollection<string>? knownModels = null,
        TimeSpan? checkInterval = null, TimeProvider? time = null, bool watchEvents = true)
    {
        _path = Path.GetFullPath(path);
        _logger = logger;
        _accept = accept ?? (_ => null);
        _knownModels = knownModels;
        var bytes = PolicyFile.ReadFile(_path);
        _current = PolicyFile.Parse(bytes, _path, knownModels);
        _lastHash = SHA256.HashData(bytes);
        if (watchEvents)
        {
            _watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!)
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
                IncludeSubdirectories = false,
            };
            _watcher.Changed += OnEvent;
            _watcher.Created += OnEvent;
            _watcher.Renamed += OnEvent;
            _watcher.EnableRaisingEvents = true;
        }
        var interval = checkInterval ?? TimeSpan.FromSeconds(10);
        if (interval != Timeout.InfiniteTimeSpan)
            _timer = (time ?? TimeProvider.System).CreateTimer(_ => CheckNow(), null, interval, interval);
    }

    /// <summary>The policy in force; read it once per upload.</summary>
    public Policy Current => Volatile.Read(ref _current);

    /// <summary>The watched file (full path).</summary>
    public string FilePath => _path;

    /// <summary>Policies swapped in since start.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>Changed files refused (invalid, unreadable or needing other models).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Raised after a new policy is in force (old, new).</summary>
    public event Action<Policy, Policy>? Changed;

    // Events fire for every file in the folder (and for the ..data symlink swap of a ConfigMap): check them all.
    private void OnEvent(object sender, FileSystemEventArgs e) => CheckNow();

    /// <summary>Reads the file and applies it if its content changed and it is acceptable.</summary>
    /// <returns>True when a new policy is now in force.</returns>
    public bool CheckNow()
    {
        lock (_gate)
        {
            byte[] bytes;
            try
            {
                bytes = PolicyFile.ReadFile(_path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                // Mid-replace or briefly gone (or replaced by something that is not a regular file): the next event or check sees the final file.
                _logger.LogDebug("Policy file {Path} not readable now: {Message}", _path, e.Message);
                return false;
            }
            var hash = SHA256.HashData(bytes);
            if (hash.AsSpan().SequenceEqual(_lastHash)) return false;
            _lastHash = hash;
            var old = Current;
            Policy next;
            try
            {
                next = PolicyFile.Parse(bytes, _path, _knownModels);
                if (_accept(next) is { } refusal) throw new InvalidDataException($"{_path}: {refusal}");
                // Cached decisions are keyed by the version: new thresholds under an old version would reuse stale ones.
                if (next.Version == old.Version)
                    throw new InvalidDataException($"{_path}: the policy changed but its version is still '{old.Version}': give every change a new version");
            }
            catch (InvalidDataException e)
            {
                Interlocked.Increment(ref _rejected);
                _logger.LogError("Policy reload refused, policy {Version} stays in force: {Message}", old.Version, e.Message);
                return false;
            }
            Volatile.Write(ref _current, next);
            Interlocked.Increment(ref _reloads);
            _logger.LogWarning("Policy reloaded: {Old} -> {New} ({Path})", old.Version, next.Version, _path);
            Changed?.Invoke(old, next);
            return true;
        }
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _timer?.Dispose();
    }
}
