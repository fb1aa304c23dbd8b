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

    [Range(1, 1024)]
    public int MaxBatchSize { get; set; } = 16;

    /// <summary>Longest time the first image of a batch waits for others.</summary>
    [Range(0, 1000)]
    public int MaxQueueDelayMs { get; set; } = 5;

    /// <summary>Images waiting for inference before callers are made to wait (backpressure).</summary>
    [Range(1, 100_000)]
    public int MaxQueuedImages { get; set; } = 512;
}

/// <summary>Redis settings (configuration section <c>Redis</c>).</summary>
public sealed class RedisOptions
{
    /// <summary>StackExchange.Redis configuration string; empty = no decision cache.</summary>
    public string? Configuration { get; set; }

    public TimeSpan DecisionTtl { get; set; } = TimeSpan.FromDays(7);
}
