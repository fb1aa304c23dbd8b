using System.CommandLine;
using Moderation.Streams.Cli.Commands;

namespace Moderation.Streams.Cli;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = BuildRoot();
        var parse = root.Parse(args, Parsing);
        var errors = parse.Errors.Select(e => e.Message).Concat(UnknownOptions(parse)).ToList();
        if (errors.Count > 0)
        {
            foreach (var error in errors) Console.Error.WriteLine($"moderation: {error}");
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

    /// <summary>
    /// Tokens that look like options (<c>--bogus</c>, <c>-x</c>) but were taken as a verb's arguments: the parser gives an
    /// unknown option to an argument that accepts strings (<c>hash x.png --bogus</c> would hash a file named
    /// <c>--bogus</c>). Each is an error; after <c>--</c> anything is an argument (<c>hash -- -odd-name.png</c>),
    /// as are <c>-</c> (standard input) and negative numbers.
    /// </summary>
    public static IEnumerable<string> UnknownOptions(ParseResult parse)
    {
        var afterSeparator = new HashSet<System.CommandLine.Parsing.Token>(ReferenceEqualityComparer.Instance);
        bool separated = false;
        foreach (var token in parse.Tokens)
        {
            if (separated) afterSeparator.Add(token);
            else if (token.Type == System.CommandLine.Parsing.TokenType.DoubleDash) separated = true;
        }
        for (System.CommandLine.Parsing.SymbolResult? result = parse.CommandResult; result is not null; result = result.Parent)
        {
            if (result is not System.CommandLine.Parsing.CommandResult command) continue;
            foreach (var argument in command.Children.OfType<System.CommandLine.Parsing.ArgumentResult>())
            {
                foreach (var token in argument.Tokens)
                {
                    var value = token.Value;
                    if (value.Length < 2 || value[0] != '-' || afterSeparator.Contains(token)) continue;
                    if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)) continue;
                    yield return $"unknown option '{value}' for '{command.Command.Name}' (a file named so goes after '--')";
                }
            }
        }
    }

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
        root.Subcommands.Add(PolicyCommand.Create());
        root.Subcommands.Add(ExplainCommand.Create());
        root.Subcommands.Add(ReviewCommand.Create());
        return root;
    }
}
