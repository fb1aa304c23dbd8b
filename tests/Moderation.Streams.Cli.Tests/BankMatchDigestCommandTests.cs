using System.Security.Cryptography;
using System.Text.Json;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>bank match</c> looks each file's bytes up in the exact file-hash banks too, as the worker does before
/// decoding: a digest match is listed in the same <c>matches</c> array with <c>"digest":"md5|sha256"</c>, and a known file
/// that cannot be decoded is still reported (with a null hash).</summary>
public sealed class BankMatchDigestCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("bank-match-digest-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task A_file_in_a_digest_bank_is_listed_with_its_digest_kind_beside_its_pdq_matches()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var picture = Path.Combine(_dir.FullName, "picture.png");
        File.WriteAllBytes(picture, SampleImages.Png(4102, 320, 240));
        var other = Path.Combine(_dir.FullName, "other.png"); // banked in no way
        File.WriteAllBytes(other, SampleImages.Png(977, 320, 240));
        var broken = Path.Combine(_dir.FullName, "broken.jpg"); // no image at all, but a listed file
        File.WriteAllBytes(broken, [0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3, 4, 5]);
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(picture)));
#pragma warning disable CA5351 // the md5 list's own digest
        string brokenMd5 = Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(broken)));
#pragma warning restore CA5351

        var started = new List<CliProcess>();
        async Task<CliProcess> Run(params string[] args)
        {
            var cli = await CliProcess.RunAsync([.. args, "--redis", redis.Configuration + ",syncTimeout=15000,asyncTimeout=15000"], ct: Ct);
            started.Add(cli);
            return cli;
        }

        var hashed = await Run("bank", "match", picture); // no bank yet: no matches
        Assert.Equal(ExitCodes.Ok, await hashed.WaitForExitAsync(ct: Ct));
        string pdq;
        using (var json = JsonDocument.Parse(Assert.Single(hashed.StdoutLines)))
        {
            Assert.Empty(json.RootElement.GetProperty("matches").EnumerateArray());
            pdq = json.RootElement.GetProperty("hash").GetString()!;
        }
        var pdqList = Path.Combine(_dir.FullName, "pdq.csv");
        File.WriteAllText(pdqList, $"{pdq},100,p-1,lookalike\n");
        var shaList = Path.Combine(_dir.FullName, "ncii.csv");
        File.WriteAllText(shaList, $"{sha},n-1,ncii-label,ncii-2026.csv,2026-11-03T08:15:30Z\n");
        var md5List = Path.Combine(_dir.FullName, "md5.csv");
        File.WriteAllText(md5List, $"{brokenMd5},m-1\n");
        string[][] imports =
        [
            ["bank", "import", "--bank", "known", pdqList],
            ["bank", "import", "--kind", "sha256", "--bank", "ncii", shaList],
            ["bank", "import", "--kind", "md5", "--bank", "partner", md5List],
        ];
        foreach (var import in imports)
        {
            var cli = await Run(import);
            Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, cli.Transcript());
        }

        var matched = await Run("bank", "match", picture, other);
        Assert.Equal(ExitCodes.Ok, await matched.WaitForExitAsync(ct: Ct));
        Assert.Equal(2, matched.StdoutLines.Count);
        using (var json = JsonDocument.Parse(matched.StdoutLines[0]))
        {
            Assert.Equal(pdq, json.RootElement.GetProperty("hash").GetString());
            var matches = json.RootElement.GetProperty("matches").EnumerateArray().ToList();
            Assert.Equal(2, matches.Count);
            Assert.Equal(("ncii", "n-1", 0, "sha256", "ncii-label", "ncii-2026.csv", "2026-11-03T08:15:30.000Z"),
                (matches[0].GetProperty("bank").GetString(), matches[0].GetProperty("id").GetString(), matches[0].GetProperty("distance").GetInt32(),
                 matches[0].GetProperty("digest").GetString(), matches[0].GetProperty("label").GetString(), matches[0].GetProperty("source").GetString(),
                 matches[0].GetProperty("added_at").GetString()));
            Assert.Equal(("known", "p-1", 0), (matches[1].GetProperty("bank").GetString(), matches[1].GetProperty("id").GetString(), matches[1].GetProperty("distance").GetInt32()));
            Assert.False(matches[1].TryGetProperty("digest", out _)); // a PDQ match names no digest
        }
        using (var json = JsonDocument.Parse(matched.StdoutLines[1]))
            Assert.Empty(json.RootElement.GetProperty("matches").EnumerateArray());

        // --bank limits the digest banks as it limits the PDQ banks.
        var onlyPdq = await Run("bank", "match", "--bank", "known", picture);
        Assert.Equal(ExitCodes.Ok, await onlyPdq.WaitForExitAsync(ct: Ct));
        using (var json = JsonDocument.Parse(Assert.Single(onlyPdq.StdoutLines)))
            Assert.Equal(["known"], json.RootElement.GetProperty("matches").EnumerateArray().Select(m => m.GetProperty("bank").GetString()));

        // A listed file that cannot be decoded: its digest match is still printed (hash null) beside the decode error, exit 1.
        var undecodable = await Run("bank", "match", broken);
        Assert.Equal(ExitCodes.Failure, await undecodable.WaitForExitAsync(ct: Ct));
        Assert.StartsWith($"moderation bank match: {broken}: ", Assert.Single(undecodable.StderrLines), StringComparison.Ordinal);
        using (var json = JsonDocument.Parse(Assert.Single(undecodable.StdoutLines)))
        {
            Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("hash").ValueKind);
            var m = Assert.Single(json.RootElement.GetProperty("matches").EnumerateArray());
            Assert.Equal(("partner", "m-1", "md5"), (m.GetProperty("bank").GetString(), m.GetProperty("id").GetString(), m.GetProperty("digest").GetString()));
        }
        foreach (var cli in started) cli.Dispose();
    }
}
