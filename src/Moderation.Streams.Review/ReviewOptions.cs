using System.ComponentModel.DataAnnotations;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Review;

/// <summary>The review console's settings (section <c>Review</c>).</summary>
public sealed class ReviewOptions : IValidatableObject
{
    /// <summary>Port of the console and its API (flag <c>--port</c>); 0 = any free port.</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 8080;

    /// <summary>Address the console listens on (default every interface; <c>127.0.0.1</c> = this host only).</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>How long an item may wait for a verdict (the queue marks older ones; the queue-age alert uses 4 h too).</summary>
    public TimeSpan AgeTarget { get; set; } = TimeSpan.FromHours(4);

    /// <summary>Port of <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c>, served without login on their own port so the
    /// console's port has no anonymous endpoint; 0 = any free port, -1 = none.</summary>
    [Range(-1, 65535)]
    public int TelemetryPort { get; set; } = 9465;

    /// <summary>The users file written by <c>moderation review user add</c>.</summary>
    public string UsersFile { get; set; } = "review-users.json";

    /// <summary>Consumer group reading <c>moderation.decisions.review</c> into the queue.</summary>
    [Required]
    public string GroupId { get; set; } = "moderation-review";

    /// <summary>Topic of the verdict events.</summary>
    [Required]
    public string ReviewsTopic { get; set; } = Topics.Reviews;

    /// <summary>How long a claim lasts without a verdict; then anyone may claim the item.</summary>
    public TimeSpan ClaimTtl { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Redis key prefix, shared with the worker's banks (a takedown with a bank writes where workers read).</summary>
    [Required]
    public string KeyPrefix { get; set; } = "moderation:";

    /// <summary>Most items one <c>GET /api/queue</c> returns.</summary>
    [Range(1, 10_000)]
    public int MaxQueueLimit { get; set; } = 1000;

    /// <summary>Login attempts allowed per client address per minute (form and HTTP Basic failures together).</summary>
    [Range(1, 1000)]
    public int LoginAttemptsPerMinute { get; set; } = 10;

    /// <summary>Shortest window a reviewer's strike is kept for; the workers' policy's strikes window wins when longer
    /// (read from <see cref="PolicyFile"/>).</summary>
    public TimeSpan StrikeWindow { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The workers' policy file (bound from <c>Screening:PolicyFile</c>, the workers' own setting), read for its
    /// strikes window.</summary>
    public string? PolicyFile { get; set; }

    /// <summary>Largest request body accepted (verdicts, login forms).</summary>
    [Range(1024, 10 * 1024 * 1024)]
    public int MaxRequestBytes { get; set; } = 64 * 1024;

    /// <summary>How long a verdict's publishing may take before another console may finish it (a crashed console's
    /// pending verdicts are taken over after this; it must exceed the producer's delivery timeout,
    /// <c>Kafka:ProducerProperties:message.timeout.ms</c>, 120 s by default).</summary>
    public TimeSpan PublishLockTtl { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>This console's name for the publishing locks (default the host name: a pod restarted under its name finishes
    /// its own pending verdicts at once). Give each console on one host its own.</summary>
    public string? InstanceId { get; set; }

    /// <summary>Proxies (addresses, or networks as <c>10.0.0.0/8</c>) whose <c>X-Forwarded-For</c> and
    /// <c>X-Forwarded-Proto</c> are believed: behind an Ingress, the login limit then counts each reviewer's own address
    /// and cookies are marked <c>Secure</c> over HTTPS. Empty (the default): no forwarded header is trusted.</summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>Optional OpenID Connect for production logins (the users file still holds the API's accounts).</summary>
    public ReviewOidcOptions Oidc { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ClaimTtl < TimeSpan.FromSeconds(1) || ClaimTtl > TimeSpan.FromDays(1))
            yield return new ValidationResult("Review:ClaimTtl must be between 1 second and 1 day", [nameof(ClaimTtl)]);
        if (StrikeWindow <= TimeSpan.Zero)
            yield return new ValidationResult("Review:StrikeWindow must be positive", [nameof(StrikeWindow)]);
        foreach (var proxy in TrustedProxies)
            if (!System.Net.IPNetwork.TryParse(proxy, out _) && !System.Net.IPAddress.TryParse(proxy, out _))
                yield return new ValidationResult($"Review:TrustedProxies: '{proxy}' is neither an address nor a network", [nameof(TrustedProxies)]);
        if (string.IsNullOrWhiteSpace(UsersFile))
            yield return new ValidationResult("Review:UsersFile is required", [nameof(UsersFile)]);
    }
}
