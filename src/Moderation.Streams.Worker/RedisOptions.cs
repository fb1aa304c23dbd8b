using System.ComponentModel.DataAnnotations;

namespace Moderation.Streams.Worker;

/// <summary>Redis settings (configuration section <c>Redis</c>).</summary>
public sealed class RedisOptions : IValidatableObject
{
    /// <summary>StackExchange.Redis configuration string; empty = no decision cache.</summary>
    public string? Configuration { get; set; }

    public TimeSpan DecisionTtl { get; set; } = TimeSpan.FromDays(7);

    /// <summary>TLS, ACL user and password file (<c>Redis:Security</c>).</summary>
    public Moderation.Streams.Redis.RedisSecurityOptions Security { get; set; } = new();

    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        if (DecisionTtl <= TimeSpan.Zero) yield return new ValidationResult($"Redis:DecisionTtl {DecisionTtl} must be positive", [nameof(DecisionTtl)]);
    }
}
