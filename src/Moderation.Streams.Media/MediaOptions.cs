namespace Moderation.Streams.Media;

/// <summary>Where media may be read from, and how much of it (configuration section <c>Media</c>).</summary>
public sealed record MediaOptions
{
    /// <summary>Directory under which <c>file:</c> URLs are served; null forbids <c>file:</c> URLs.</summary>
    public string? Root { get; init; }

    /// <summary>Hosts that <c>https:</c> (and, when <see cref="AllowHttp"/>, <c>http:</c>) URLs may name. Empty forbids all.</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    public bool AllowHttp { get; init; }

    /// <summary>Largest media accepted, in bytes (streamed reads stop here).</summary>
    public long MaxBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Total time budget of one remote fetch.</summary>
    public TimeSpan FetchTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public DecodeLimits Decode { get; init; } = DecodeLimits.Default;
}
