using System.CommandLine;

namespace Moderation.Streams.Cli.Tests;

/// <summary>Every verb a user can run, found from the parser itself (a verb added later is covered without editing this):
/// <c>--help</c> exits 0 and prints its usage; an unknown option exits 2 with one error line and runs nothing.</summary>
public sealed class HelpAndUsageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Each runnable command as its words after <c>moderation</c> (<c>bench bank</c>, <c>policy check</c>…).</summary>
    public static TheoryData<string> Verbs()
    {
        var verbs = new TheoryData<string>();
        void Walk(Command command, string prefix)
        {
            foreach (var sub in command.Subcommands)
            {
                var words = prefix.Length == 0 ? sub.Name : $"{prefix} {sub.Name}";
                // A command with its own action (review) runs as well as its subcommands (review user add).
                if (sub.Subcommands.Count == 0 || sub.Action is not null) verbs.Add(words);
                if (sub.Subcommands.Count > 0) Walk(sub, words);
            }
        }
        Walk(Program.BuildRoot(), "");
        return verbs;
    }

    [Theory]
    [MemberData(nameof(Verbs))]
    public async Task Help_exits_0_and_an_unknown_option_exits_2(string verb)
    {
        var words = verb.Split(' ');
        using var help = await CliProcess.RunAsync([.. words, "--help"], ct: Ct);
        Assert.True(await help.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, help.Transcript());
        Assert.Contains(help.StdoutLines, l => l.StartsWith("Usage:", StringComparison.Ordinal));
        Assert.Contains(help.StdoutLines, l => l.Contains($"moderation {verb}", StringComparison.Ordinal));

        using var bogus = await CliProcess.RunAsync([.. words, "--no-such-option"], ct: Ct);
        Assert.True(await bogus.WaitForExitAsync(ct: Ct) == ExitCodes.Usage, bogus.Transcript());
        Assert.Contains(bogus.StderrLines, l => l.Contains("--no-such-option", StringComparison.Ordinal));
        Assert.Equal("Run 'moderation --help' for usage.", bogus.StderrLines[^1]);
        Assert.Empty(bogus.StdoutLines);
    }

    [Fact]
    public async Task The_root_help_lists_every_verb_and_the_worker_documents_where_telemetry_listens()
    {
        using var root = await CliProcess.RunAsync(["--help"], ct: Ct);
        Assert.Equal(ExitCodes.Ok, await root.WaitForExitAsync(ct: Ct));
        foreach (var verb in Program.BuildRoot().Subcommands)
            Assert.Contains(root.StdoutLines, l => l.TrimStart().StartsWith(verb.Name + " ", StringComparison.Ordinal));

        using var worker = await CliProcess.RunAsync(["worker", "--help"], ct: Ct);
        Assert.Equal(ExitCodes.Ok, await worker.WaitForExitAsync(ct: Ct));
        Assert.Contains("Telemetry:BindAddress", string.Join(' ', worker.StdoutLines.Select(l => l.Trim())), StringComparison.Ordinal);
    }
}
