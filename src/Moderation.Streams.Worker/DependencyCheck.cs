namespace Moderation.Streams.Worker;

public enum CheckStatus
{
    Ok,
    Warn,
    Fail,
}

/// <summary>One check of what the worker needs, printed by <c>moderation doctor</c> and logged by the worker at start
/// as one line: <c>STATUS NAME: DETAIL[; fix: WHAT TO DO]</c>, STATUS being <c>ok</c>, <c>warn</c> or <c>fail</c>. A
/// <c>fail</c> is a required dependency missing; a <c>warn</c> works, worse than it should.</summary>
public sealed record DependencyCheck(string Name, CheckStatus Status, string Detail, string? Fix = null)
{
    public bool Failed => Status == CheckStatus.Fail;

    /// <summary>The model file is there but is not the registered one (its SHA-256 differs): it may well load.</summary>
    internal bool WrongModelFile { get; init; }

    public override string ToString() =>
        $"{Status.ToString().ToLowerInvariant(),-4} {Name}: {Detail}" + (Fix is null ? "" : $"; fix: {Fix}");
}
