using System.ComponentModel.DataAnnotations;

namespace Moderation.Streams.Worker;

/// <summary>Screening settings (configuration section <c>Screening</c>).</summary>
public sealed class ScreeningOptions
{
    /// <summary>Classifier from the model registry.</summary>
    [Required(AllowEmptyStrings = false)]
    public string Model { get; set; } = "nsfw-mobilenet-v2";

    /// <summary>Folder holding the .onnx files; null = the <c>models</c> folder next to the executable.</summary>
    public string? ModelsDirectory { get; set; }

    /// <summary>Policy JSON file; null = the built-in default policy.</summary>
    public string? PolicyFile { get; set; }

    /// <summary>Decisions are cached and reused only for PDQ hashes of at least this quality (flat images hash alike).</summary>
    [Range(0, 100)]
    public int MinCacheQuality { get; set; } = 50;
}

/// <summary>Redis settings (configuration section <c>Redis</c>).</summary>
public sealed class RedisOptions
{
    /// <summary>StackExchange.Redis configuration string; empty = no decision cache.</summary>
    public string? Configuration { get; set; }

    public TimeSpan DecisionTtl { get; set; } = TimeSpan.FromDays(7);

    /// <summary>TLS, ACL user and password file (<c>Redis:Security</c>).</summary>
    public Moderation.Streams.Redis.RedisSecurityOptions Security { get; set; } = new();
}

/// <summary>Hash-bank matching (configuration section <c>Banks</c>); needs <c>Redis:Configuration</c>.</summary>
public sealed class BanksOptions
{
    /// <summary>Match uploads against the banks in Redis (when Redis is configured).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Largest Hamming distance that matches.</summary>
    [Range(0, 47)]
    public int MaxDistance { get; set; } = 31;

    /// <summary>Hashes under this quality never match.</summary>
    [Range(0, 100)]
    public int MinQuality { get; set; } = 50;

    /// <summary>Also match rotated and mirrored copies (the 8 dihedral hashes). On by default: a banked picture
    /// uploaded turned or mirrored would otherwise miss every bank.</summary>
    public bool Dihedral { get; set; } = true;

    /// <summary>Version check interval when no change message arrives.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Without a successful sync for this long the banks count as unavailable.</summary>
    public TimeSpan MaxStaleness { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long the worker waits for the first load before it starts consuming.</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>When the banks are unavailable: <c>review</c> (default: a model <c>allow</c> becomes
    /// <c>review</c>, never silently allowing what a bank would have caught) or <c>model</c> (the model alone decides).</summary>
    [RegularExpression("^(review|model)$")]
    public string WhenUnavailable { get; set; } = "review";
}
