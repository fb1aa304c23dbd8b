namespace Moderation.Streams.Review;

/// <summary>OpenID Connect login for the console (section <c>Review:Oidc</c>); off unless <see cref="Authority"/> is set.</summary>
public sealed class ReviewOidcOptions
{
    public string? Authority { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }

    /// <summary>A file holding the client secret (a mounted Secret); wins over <see cref="ClientSecret"/>.</summary>
    public string? ClientSecretFile { get; set; }

    /// <summary>The claim holding the user's roles; a user whose roles include neither <c>reviewer</c> nor <c>admin</c> is refused.</summary>
    public string RoleClaim { get; set; } = "roles";

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority);
}
