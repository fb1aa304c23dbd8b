using System.CommandLine;
using System.CommandLine.Parsing;
using System.Runtime.InteropServices;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>moderation broker</c>: the embedded Kafka-protocol broker (librdkafka's mock cluster) as its own
/// process, for development and tests. First line of stdout: <c>bootstrap=127.0.0.1:PORT[,…]</c>.
/// </summary>
internal static class BrokerCommand
{
    public static Command Create()
    {
        var port = new Option<int?>("--port")
        {
            Description = "Fixed bootstrap port on 127.0.0.1. The brokers themselves always listen on random ports "
                + "(librdkafka cannot choose them); this port relays to the first broker, so clients bootstrap "
                + "through it and then connect to the brokers' own ports. Default: no relay, print the brokers' ports.",
        };
        port.Validators.Add(r => Range(r, 1, 65535));

        var brokers = new Option<int>("--brokers")
        {
            Description = "Number of brokers (replication factor is 1 for the created topics).",
            DefaultValueFactory = _ => 1,
        };
        brokers.Validators.Add(r => Range(r, 1, 64));

        var partitions = new Option<int>("--partitions")
        {
            Description = "Partitions of every created topic.",
            DefaultValueFactory = _ => 4,
        };
        partitions.Validators.Add(r => Range(r, 1, 100_000));

        var topics = new Option<string>("--topics")
        {
            Description = "Comma-separated topics to create at start (the broker has no admin API and consumers do "
                + "not auto-create topics). Default: the contract topics.",
            DefaultValueFactory = _ => string.Join(',', Topics.All),
        };

        var command = new Command("broker",
            "Runs the embedded Kafka-protocol broker (librdkafka mock cluster) until SIGINT/SIGTERM and prints "
            + "'bootstrap=127.0.0.1:PORT' as its first line. Dev and test only: no admin API, no OffsetsForTimes, "
            + "about 5 MiB retained per partition (older data silently dropped), transactions not really stored, "
            + "everything in memory.");
        command.Options.Add(port);
        command.Options.Add(brokers);
        command.Options.Add(partitions);
        command.Options.Add(topics);

        command.SetAction(parseResult => Run(new EmbeddedBrokerOptions
        {
            Port = parseResult.GetValue(port),
            Brokers = parseResult.GetValue(brokers),
            Partitions = parseResult.GetValue(partitions),
            Topics = (parseResult.GetValue(topics) ?? "")
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        }));
        return command;
    }

    // A synchronous action that owns SIGINT/SIGTERM itself. With an async action System.CommandLine's own
    // handler answers a signal that arrives before the action's first await with exit code 143 instead
    // of letting the action finish (seen in about 1 of 7 runs when SIGTERM followed the bootstrap line).
    private static int Run(EmbeddedBrokerOptions options)
    {
        using var stop = new ManualResetEventSlim();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        EmbeddedKafkaBroker broker;
        try
        {
            broker = EmbeddedKafkaBroker.Start(options);
        }
        catch (EmbeddedBrokerException e)
        {
            Console.Error.WriteLine($"moderation broker: {e.Message}");
            return ExitCodes.Failure;
        }

        using (broker)
        {
            var stdout = Console.Out;
            stdout.WriteLine($"bootstrap={broker.BootstrapServers}");
            var topicList = options.Topics.Count == 0 ? "no topics" : $"topics {string.Join(", ", options.Topics)} ({options.Partitions} partitions each)";
            stdout.WriteLine(
                $"moderation broker: {options.Brokers} broker(s) at {broker.BrokerAddresses}; {topicList}. "
                + "Dev/test only: no admin API, no OffsetsForTimes, ~5 MiB kept per partition, transactions not really stored. "
                + "Stop with Ctrl+C or SIGTERM.");
            stdout.Flush();

            stop.Wait();
        }
        return ExitCodes.Ok;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // keep running until the broker is disposed, then exit 0
            try { stop.Set(); } catch (ObjectDisposedException) { /* already stopping */ }
        }
    }

    // Reads the token itself: a value that is not a number is already reported by the parser, and
    // GetValueOrDefault would throw on it inside a validator.
    private static void Range(OptionResult result, int min, int max)
    {
        if (result.Tokens is [var token] && int.TryParse(token.Value, out var n) && (n < min || n > max))
            result.AddError($"{result.Option.Name} must be between {min} and {max}, not {n}.");
    }
}
