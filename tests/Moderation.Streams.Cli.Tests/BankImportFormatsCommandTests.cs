using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

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

        // bank match names each match's provenance, as the worker's reasons do.
        var picture = Path.Combine(dir.FullName, "picture.png");
        File.WriteAllBytes(picture, SampleImages.Png(4101, 320, 240));
        var hashed = await CliProcess.RunAsync(["hash", picture], ct: Ct);
        started.Add(hashed);
        Assert.Equal(ExitCodes.Ok, await hashed.WaitForExitAsync(ct: Ct));
        var pictureHash = Assert.Single(hashed.StdoutLines).Split(',')[0];
        var teDump = Path.Combine(dir.FullName, "te-dump.csv");
        File.WriteAllText(teDump, $"{pictureHash},3085240538237227,2020-07-31T18:47:45+0000,media_type_photo\n");
        var fromDump = await Run("import", "--bank", "dumped", teDump);
        Assert.Equal("imported 1 hashes into dumped (version 1) from a ThreatExchange dump (hash,id,added_on,tags)", Assert.Single(fromDump.StdoutLines));
        var matched = await Run("match", "--bank", "dumped", picture);
        Assert.Equal(ExitCodes.Ok, matched.ExitCode);
        using (var json = System.Text.Json.JsonDocument.Parse(Assert.Single(matched.StdoutLines)))
        {
            var m = Assert.Single(json.RootElement.GetProperty("matches").EnumerateArray());
            Assert.Equal(("dumped", "3085240538237227", 0, "media_type_photo", "te-dump.csv", "2020-07-31T18:47:45.000Z"),
                (m.GetProperty("bank").GetString(), m.GetProperty("id").GetString(), m.GetProperty("distance").GetInt32(), m.GetProperty("label").GetString(),
                 m.GetProperty("source").GetString(), m.GetProperty("added_at").GetString()));
        }

        var refused = await Run("import", "--bank", "shared", unknown);
        Assert.Equal(ExitCodes.Usage, refused.ExitCode);
        var line = Assert.Single(refused.StderrLines);
        Assert.StartsWith($"moderation bank import: {unknown}: unknown header 'url,category'", line, StringComparison.Ordinal);
        Assert.Empty(refused.StdoutLines);
        Assert.Equal(3, (await Run("export", "--bank", "shared")).StdoutLines.Count); // nothing of it was written
        foreach (var cli in started) cli.Dispose();
    }

    [Fact]
    public async Task Exact_file_hash_banks_import_list_export_and_remove_through_the_cli()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var dir = Directory.CreateTempSubdirectory("digest-banks-");
        string sha1 = new('a', 64), sha2 = new('b', 64), md5 = new('c', 32);
        var list = Path.Combine(dir.FullName, "stopncii.csv");
        File.WriteAllText(list, $"{sha1},s-1,ncii\n{sha2}\n");
        var hma = Path.Combine(dir.FullName, "hma.csv");
        File.WriteAllText(hma, $"bank_name,content_id,signal_type,signal\nLIST,7,video_md5,{md5}\nLIST,8,pdq,{new string('d', 64)}\n");
        var bad = Path.Combine(dir.FullName, "bad.csv");
        File.WriteAllText(bad, $"{md5},too-short-for-sha256\n");

        var started = new List<CliProcess>();
        async Task<(int ExitCode, IReadOnlyList<string> StdoutLines, IReadOnlyList<string> StderrLines)> Run(params string[] args)
        {
            var cli = await CliProcess.RunAsync(["bank", .. args, "--redis", redis.Configuration + ",syncTimeout=15000,asyncTimeout=15000"], ct: Ct);
            started.Add(cli);
            int code = await cli.WaitForExitAsync(ct: Ct);
            return (code, cli.StdoutLines, cli.StderrLines);
        }

        var imported = await Run("import", "--kind", "sha256", "--bank", "ncii", list);
        Assert.True(imported.ExitCode == ExitCodes.Ok, string.Join("\n", imported.StderrLines));
        Assert.Equal("imported 2 sha256 digests into ncii (version 1)", Assert.Single(imported.StdoutLines));
        var fromHma = await Run("import", "--kind", "md5", "--bank", "partner", hma);
        Assert.Equal("imported 1 md5 digests into partner (version 1) from an HMA export; skipped 1 rows of other signal types", Assert.Single(fromHma.StdoutLines));

        Assert.Equal(["ncii\t2\tversion 1"], (await Run("list", "--kind", "sha256")).StdoutLines);
        Assert.Empty((await Run("list")).StdoutLines); // PDQ banks are listed apart
        var export = await Run("export", "--kind", "sha256", "--bank", "ncii");
        Assert.Equal("digest,id,label,source,added_at", export.StdoutLines[0]);
        // Ordered by id: the second row's id is its digest.
        Assert.StartsWith($"{sha2},{sha2},,stopncii.csv,", export.StdoutLines[1], StringComparison.Ordinal);
        Assert.StartsWith($"{sha1},s-1,ncii,stopncii.csv,", export.StdoutLines[2], StringComparison.Ordinal);

        var refused = await Run("import", "--kind", "sha256", "--bank", "ncii", bad);
        Assert.Equal(ExitCodes.Failure, refused.ExitCode);
        Assert.Equal("moderation bank import: line 1: not a 64-hex-digit sha256 digest: '" + md5 + "'", Assert.Single(refused.StderrLines));
        var wrongKind = await Run("import", "--kind", "md5", "--bank", "ncii", hma);
        Assert.Equal(ExitCodes.Usage, wrongKind.ExitCode);
        Assert.Contains("holds sha256 digests, not md5", Assert.Single(wrongKind.StderrLines), StringComparison.Ordinal);

        Assert.Equal("removed 1 of 1 from ncii", Assert.Single((await Run("remove", "--kind", "sha256", "--bank", "ncii", "s-1")).StdoutLines));
        Assert.Equal(ExitCodes.Failure, (await Run("remove", "--kind", "md5", "--bank", "ncii", "x")).ExitCode); // not an md5 bank
        Assert.Equal(ExitCodes.Ok, (await Run("remove", "--kind", "sha256", "--bank", "ncii", "--all")).ExitCode);
        Assert.Empty((await Run("list", "--kind", "sha256")).StdoutLines);
        Assert.Equal(ExitCodes.Failure, (await Run("export", "--kind", "sha256", "--bank", "ncii")).ExitCode);
        foreach (var cli in started) cli.Dispose();
    }
}
