using Moderation.Streams.Contracts;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>bank import</c> of the CSVs people export from HMA and ThreatExchange, run as a process: the rows land with
/// their ids, labels, sources and times (what every bank reason then names), and an unknown header is refused (exit 2).</summary>
public sealed class BankImportFormatsCommandTests
{
    private const string H1 = "acecf3355e3125c8e24e2f30e0d4ec4f8482b878b3c34cdbdf063278db275992";
    private const string H2 = "8fb70f36e1c4181e82fde7d0f80138430e1e31f07b628e31ccbb687e87e1f307";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Hma_and_threatexchange_exports_import_with_their_provenance_and_an_unknown_header_is_refused()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var dir = Directory.CreateTempSubdirectory("bank-formats-");
        var hma = Path.Combine(dir.FullName, "hma-export.csv");
        File.WriteAllText(hma, $"""
            bank_name,content_id,signal_type,signal,content_uri,created_at
            PARTNER_LIST,1001,pdq,{H1},https://example.test/1,2024-03-01T12:00:00+00:00
            PARTNER_LIST,1002,video_md5,d41d8cd98f00b204e9800998ecf8427e,,2024-03-02T12:00:00+00:00
            """);
        var te = Path.Combine(dir.FullName, "te.csv");
        File.WriteAllText(te, $"""
            hash,quality,id,labels
            {H2},87,2880742865368386,media_type_photo disputed
            """);
        var unknown = Path.Combine(dir.FullName, "unknown.csv");
        File.WriteAllText(unknown, $"url,category\n{H1},90\n");

        var started = new List<CliProcess>();
        async Task<(int ExitCode, IReadOnlyList<string> StdoutLines, IReadOnlyList<string> StderrLines)> Run(params string[] args)
        {
            var cli = await CliProcess.RunAsync(["bank", .. args, "--redis", redis.Configuration + ",syncTimeout=15000,asyncTimeout=15000"], ct: Ct);
            started.Add(cli);
            int code = await cli.WaitForExitAsync(ct: Ct);
            return (code, cli.StdoutLines, cli.StderrLines);
        }

        var fromHma = await Run("import", "--bank", "shared", hma);
        Assert.True(fromHma.ExitCode == ExitCodes.Ok, string.Join("\n", fromHma.StderrLines));
        Assert.Equal("imported 1 hashes into shared (version 1) from an HMA export; skipped 1 rows of other signal types; ignored columns: content_uri",
            Assert.Single(fromHma.StdoutLines));
        var fromTe = await Run("import", "--bank", "shared", te);
        Assert.True(fromTe.ExitCode == ExitCodes.Ok, string.Join("\n", fromTe.StderrLines));
        Assert.Equal("imported 1 hashes into shared (version 2) from a ThreatExchange CSV", Assert.Single(fromTe.StdoutLines));

        var export = await Run("export", "--bank", "shared");
        Assert.Equal(ExitCodes.Ok, export.ExitCode);
        var rows = export.StdoutLines.Skip(1).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal($"{H1},100,1001,,PARTNER_LIST,2024-03-01T12:00:00.000Z", rows[0]);
        Assert.Matches($@"^{H2},87,2880742865368386,media_type_photo disputed,te\.csv,\d{{4}}-\d\d-\d\dT[0-9:.]+Z$", rows[1]);

        var refused = await Run("import", "--bank", "shared", unknown);
        Assert.Equal(ExitCodes.Usage, refused.ExitCode);
        var line = Assert.Single(refused.StderrLines);
        Assert.StartsWith($"moderation bank import: {unknown}: unknown header 'url,category'", line, StringComparison.Ordinal);
        Assert.Empty(refused.StdoutLines);
        Assert.Equal(3, (await Run("export", "--bank", "shared")).StdoutLines.Count); // nothing of it was written
        foreach (var cli in started) cli.Dispose();
    }
}
