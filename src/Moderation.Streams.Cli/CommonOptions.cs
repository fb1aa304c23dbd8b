using System.CommandLine;

namespace Moderation.Streams.Cli;

/// <summary>Options that several verbs share, spelled as DESIGN.md fixes them.</summary>
internal static class CommonOptions
{
    public static Option<string?> Kafka() => new("--kafka")
    {
        Description = "Kafka bootstrap servers HOST:PORT[,…] (config Kafka:BootstrapServers, env Kafka__BootstrapServers)",
    };

    public static Option<string?> Redis() => new("--redis")
    {
        Description = "StackExchange.Redis configuration string (config Redis:Configuration); omit for no decision cache",
    };
}
