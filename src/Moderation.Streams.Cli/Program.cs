using System.CommandLine;
using Moderation.Streams.Cli.Commands;

namespace Moderation.Streams.Cli;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = BuildRoot();
        var parse = root.Parse(args, Parsing);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) Console.Error.WriteLine($"moderation: {error.Message}");
            Console.Error.WriteLine("Run 'moderation --help' for usage.");
            return ExitCodes.Usage;
        }
        // SIGTERM/SIGINT cancel the verb's token; the worker drains and commits within its own ShutdownTimeout,
        // so the parser must not cut it short (its default gives an action two seconds, then exits 143).
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromMinutes(5) });
    }

    /// <summary>How every command line is parsed. Response files are off: System.CommandLine would replace an
    /// <c>@NAME</c> argument by the lines of the file NAME, so an argument (a file name, <c>replay --from @UNIX_MS</c>)
    /// could make the verb read any file as arguments.</summary>
    public static ParserConfiguration Parsing => new() { ResponseFileTokenReplacer = null };

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("Moderation.Streams: screens uploads before they are published (Kafka in, decisions out).");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(WorkerCommand.Create());
        root.Subcommands.Add(BrokerCommand.Create());
        root.Subcommands.Add(HashCommand.Create());
        root.Subcommands.Add(BankCommand.Create());
        root.Subcommands.Add(ClassifyCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(ProduceCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(ChaosCommand.Create());
        root.Subcommands.Add(TopCommand.Create());
        root.Subcommands.Add(TextCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        return root;
    }
}
