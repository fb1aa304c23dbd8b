using System.CommandLine;

namespace Moderation.Streams.Cli;

/// <summary>Options that several verbs share, spelled as DESIGN.md fixes them.</summary>
internal static class CommonOptions
{
    public static Option<string?> Kafka() => new("--kafka")
    {
        Description = "Kafka bootstrap servers HOST:PORT[,…] (config Kafka:BootstrapServers, env Kafka__BootstrapServers)",
    };

    /// <summary>What a verb reads of each FILE at most (the worker's <c>Media:MaxBytes</c> default); larger is
    /// <c>media-too-large</c>, unread. Only regular files are read at all.</summary>
    public static Option<long> MaxBytes() => new("--max-bytes")
    {
        Description = "Largest file read, in bytes (larger files fail as media-too-large, unread; devices, FIFOs and sockets are refused)",
        DefaultValueFactory = _ => Media.DecodeLimits.Default.MaxBytes,
        Validators = { r => { if (r.GetValueOrDefault<long>() < 1) r.AddError("--max-bytes must be at least 1"); } },
    };

    /// <summary>The worker's model, as the verbs that run or check a worker take it.</summary>
    public static Option<string?> WorkerModel() => new("--model")
    {
        Description = "Model name (config Screening:Model, default nsfw-mobilenet-v2)",
    };

    public static Option<string?> Redis() => new("--redis")
    {
        Description = "StackExchange.Redis configuration string (config Redis:Configuration); omit for no decision cache",
    };
}
