using Moderation.Streams.Contracts;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>bank import|list|export|remove --kind terms|domains|texts</c> as a user runs them.</summary>
public sealed class TextBankCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Term_and_domain_banks_import_list_export_and_remove_through_the_cli()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var dir = Directory.CreateTempSubdirectory("text-banks-");
        var terms = Path.Combine(dir.FullName, "scams.csv");
        File.WriteAllText(terms, "pattern,category,id\nfree crypto,scam,t-1\ngiveaway,scam,t-2\n");
        var domains = Path.Combine(dir.FullName, "links.csv");
        File.WriteAllText(domains, "domain,category,id\nbad.example,phishing,d-1\n");
        var broken = Path.Combine(dir.FullName, "broken.csv");
        File.WriteAllText(broken, "ok,scam\n(a+)+$,scam,r,regex\n");

        var started = new List<CliProcess>();
        async Task<(int ExitCode, IReadOnlyList<string> StdoutLines, IReadOnlyList<string> StderrLines)> Run(params string[] args)
        {
            // Generous timeouts: the embedded Garnet answers a transaction slowly on a loaded 2-core machine.
            var cli = await CliProcess.RunAsync(["bank", .. args, "--redis", redis.Configuration + ",syncTimeout=15000,asyncTimeout=15000"], ct: Ct);
            started.Add(cli);
            int code = await cli.WaitForExitAsync(ct: Ct);
            return (code, cli.StdoutLines, cli.StderrLines);
        }

        var importTerms = await Run("import", "--kind", "terms", "--bank", "scams", terms);
        Assert.True(importTerms.ExitCode == ExitCodes.Ok, string.Join("\n", importTerms.StderrLines));
        Assert.Equal("imported into scams: 2 terms (version 1)", Assert.Single(importTerms.StdoutLines));
        var importDomains = await Run("import", "--kind", "domains", "--bank", "links", domains);
        Assert.Equal(ExitCodes.Ok, importDomains.ExitCode);

        var refused = await Run("import", "--kind", "terms", "--bank", "scams", broken);
        Assert.Equal(ExitCodes.Failure, refused.ExitCode);
        Assert.Contains(refused.StderrLines, l => l.StartsWith("moderation bank import: line 2: ", StringComparison.Ordinal));
        var wrongKind = await Run("import", "--kind", "domains", "--bank", "scams", domains);
        Assert.Equal(ExitCodes.Usage, wrongKind.ExitCode);
        Assert.Contains("holds terms, not domains", string.Join('\n', wrongKind.StderrLines));

        var list = await Run("list", "--kind", "terms");
        Assert.Equal(["scams\t2\tversion 1"], list.StdoutLines);
        var hashes = await Run("list");
        Assert.Empty(hashes.StdoutLines); // hash banks and text banks are listed apart
        var export = await Run("export", "--kind", "terms", "--bank", "scams");
        Assert.Equal(["pattern,category,id,mode", "\"free crypto\",\"scam\",\"t-1\",\"word\"", "\"giveaway\",\"scam\",\"t-2\",\"word\""], export.StdoutLines);
        var missing = await Run("export", "--kind", "terms", "--bank", "nosuch");
        Assert.Equal(ExitCodes.Failure, missing.ExitCode);

        var remove = await Run("remove", "--kind", "terms", "--bank", "scams", "t-2");
        Assert.Equal("removed 1 of 1 from scams", Assert.Single(remove.StdoutLines));
        var delete = await Run("remove", "--kind", "domains", "--bank", "links", "--all");
        Assert.Equal(ExitCodes.Ok, delete.ExitCode);
        var after = await Run("list", "--kind", "domains");
        Assert.Empty(after.StdoutLines);
        foreach (var cli in started) cli.Dispose();
    }

    [Fact]
    public async Task Meaning_banks_import_with_a_threshold_list_export_and_remove_through_the_cli()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var dir = Directory.CreateTempSubdirectory("text-banks-");
        var texts = Path.Combine(dir.FullName, "known.csv");
        File.WriteAllText(texts, "text,category,id\nSend me your bank login and I will double your money,scam,k-1\n\"Buy pills, no prescription\",drugs,k-2\n");
        var terms = Path.Combine(dir.FullName, "terms.csv");
        File.WriteAllText(terms, "pattern,category\nscam,scam\n");

        var started = new List<CliProcess>();
        async Task<(int ExitCode, IReadOnlyList<string> StdoutLines, IReadOnlyList<string> StderrLines)> Run(params string[] args)
        {
            var cli = await CliProcess.RunAsync(["bank", .. args, "--redis", redis.Configuration + ",syncTimeout=15000,asyncTimeout=15000"], ct: Ct);
            started.Add(cli);
            int code = await cli.WaitForExitAsync(ct: Ct);
            return (code, cli.StdoutLines, cli.StderrLines);
        }

        var import = await Run("import", "--kind", "texts", "--bank", "known", "--threshold", "0.8", texts);
        Assert.True(import.ExitCode == ExitCodes.Ok, string.Join("\n", import.StderrLines));
        Assert.Equal("imported into known: 2 texts (version 1, threshold 0.8)", Assert.Single(import.StdoutLines));
        var again = await Run("import", "--kind", "texts", "--bank", "known", texts); // keeps the bank's threshold
        Assert.Equal("imported into known: 2 texts (version 2, threshold 0.8)", Assert.Single(again.StdoutLines));

        var badThreshold = await Run("import", "--kind", "texts", "--bank", "known", "--threshold", "0", texts);
        Assert.Equal(ExitCodes.Usage, badThreshold.ExitCode);
        var thresholdOnTerms = await Run("import", "--kind", "terms", "--bank", "t", "--threshold", "0.5", terms);
        Assert.Equal(ExitCodes.Usage, thresholdOnTerms.ExitCode);

        Assert.Equal(["known\t2\tversion 2\tthreshold 0.8"], (await Run("list", "--kind", "texts")).StdoutLines);
        var export = await Run("export", "--kind", "texts", "--bank", "known");
        Assert.Equal(["text,category,id", "\"Send me your bank login and I will double your money\",\"scam\",\"k-1\"", "\"Buy pills, no prescription\",\"drugs\",\"k-2\""],
            export.StdoutLines);
        var remove = await Run("remove", "--kind", "texts", "--bank", "known", "k-2");
        Assert.Equal("removed 1 of 1 from known", Assert.Single(remove.StdoutLines));
        Assert.Equal(["known\t1\tversion 3\tthreshold 0.8"], (await Run("list", "--kind", "texts")).StdoutLines);
        foreach (var cli in started) cli.Dispose();
    }
}
