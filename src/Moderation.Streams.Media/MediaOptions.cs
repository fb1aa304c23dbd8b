using System.ComponentModel.DataAnnotations;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Media;

/// <summary>Where media may be read from, and how much of it (configuration section <c>Media</c>); validated at start,
/// its <c>Decode</c> and <c>Video</c> limits with it.</summary>
public sealed record MediaOptions : IValidatableObject
{
    /// <summary>Directory under which <c>file:</c> URLs are served; null forbids <c>file:</c> URLs.</summary>
    public string? Root { get; init; }

    /// <summary>Hosts that <c>https:</c> (and, when <see cref="AllowHttp"/>, <c>http:</c>) URLs may name, compared
    /// case-insensitively after IDN and trailing-dot normalisation; <c>*.example.com</c> allows every subdomain
    /// (not the apex). Empty forbids all remote fetches. Whatever the list says, resolved addresses must be public.</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    public bool AllowHttp { get; init; }

    /// <summary>Largest media accepted, in bytes (streamed reads stop here).</summary>
    public long MaxBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Total time budget of one remote fetch, redirects included.</summary>
    public TimeSpan FetchTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time budget of one TCP (and TLS) connection.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Redirects followed per fetch; every hop is checked again like the first URL. 0 refuses redirects.</summary>
    [Range(0, 20)]
    public int MaxRedirects { get; init; } = 3;

    /// <summary>Decode limits (<c>Media:Decode</c>); large JPEGs are decoded at reduced scale by default here.</summary>
    public DecodeLimits Decode { get; init; } = new() { JpegScaleMinSide = DecodeLimits.ScaledJpegMinSide };

    /// <summary>Video probing, sampling and limits (<c>Media:Video</c>).</summary>
    public Video.VideoLimits Video { get; init; } = new();

    /// <exception cref="ArgumentException">A setting is out of range (the message names it).</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBytes, 1, nameof(MaxBytes));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(FetchTimeout, TimeSpan.Zero, nameof(FetchTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero, nameof(ConnectTimeout));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRedirects, nameof(MaxRedirects));
        ArgumentNullException.ThrowIfNull(AllowedHosts, nameof(AllowedHosts));
        ArgumentNullException.ThrowIfNull(Decode, nameof(Decode));
        ArgumentNullException.ThrowIfNull(Video, nameof(Video));
        Decode.Validate();
        Video.Validate();
    }

    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext) => SettingsValidation.Run(Validate, "Media");
}
