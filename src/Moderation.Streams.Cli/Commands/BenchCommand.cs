using System.CommandLine;
using Moderation.Streams.Cli.Commands.Bench;

namespace Moderation.Streams.Cli.Commands;

/// <summary><c>bench NAME</c>: each benchmark measures its baseline in the same run and prints, last, one line
/// per ratio: <c>RATIO &lt;name&gt; &lt;value&gt; goal &lt;goal&gt;</c>.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks that print side-by-side ratios against a baseline measured in the same run.");
        command.Subcommands.Add(PdqBench.Create());
        command.Subcommands.Add(ClassifyBench.Create());
        command.Subcommands.Add(BankBench.Create());
        command.Subcommands.Add(DigestBankBench.Create());
        command.Subcommands.Add(InferenceBench.Create());
        command.Subcommands.Add(PoisonBench.Create());
        command.Subcommands.Add(ShadowBench.Create());
        command.Subcommands.Add(VideoBench.Create());
        command.Subcommands.Add(TextBench.Create());
        command.Subcommands.Add(CaptionsBench.Create());
        command.Subcommands.Add(E2eBench.Create());
        command.Subcommands.Add(SoakBench.Create());
        return command;
    }
}
