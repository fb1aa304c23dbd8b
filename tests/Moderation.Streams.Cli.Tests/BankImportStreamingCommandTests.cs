using System.Globalization;
using System.Text;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>bank import</c> of a large file, run as a process against the embedded store: the file is streamed (every
/// row checked in a first pass, then written in chunks), so a refused row at the very end still leaves nothing written,
/// and the importing process's heap does not hold the file.</summary>
public sealed class BankImportStreamingCommandTests : IDisposable
{
    private const int Rows = 200_000;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("bank-streaming-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task A_200000_row_file_imports_in_chunks_and_a_bad_last_row_writes_nothing()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var random = new Random(2211);
        var hashes = new string[Rows];
        var bytes = new byte[32];
        var good = Path.Combine(_dir.FullName, "big.csv");
        using (var writer = new StreamWriter(good, false, new UTF8Encoding(false)))
        {
            for (int i = 0; i < Rows; i++)
            {
                random.NextBytes(bytes);
                hashes[i] = Convert.ToHexStringLower(bytes);
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{hashes[i]},{50 + i % 51},s-{i},label-{i % 7},list-a,2026-11-03T08:15:30Z"));
            }
        }
        var badAtTheEnd = Path.Combine(_dir.FullName, "bad-last.csv");
        File.Copy(good, badAtTheEnd);
        File.AppendAllText(badAtTheEnd, "not-a-hash,90,s-last\n");

        var started = new List<CliProcess>();
        async Task<CliProcess> Run(IReadOnlyDictionary<string, string?>? environment, params string[] args)
        {
            var cli = await CliProcess.RunAsync(["bank", .. args, "--redis", redis.Configuration + ",syncTimeout=30000,asyncTimeout=30000"], environment,
                deadline: TimeSpan.FromMinutes(3), ct: Ct);
            started.Add(cli);
            return cli;
        }

        var imported = await Run(null, "import", "--bank", "big", good, "--chunk-rows", "30000", "--progress", "lines");
        Assert.True(await imported.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, imported.Transcript());
        var summary = Assert.Single(imported.StdoutLines);
        Assert.Matches(@"^imported 200000 hashes into big \(version \d+\)$", summary);
        long version = long.Parse(summary.Split("(version ")[1].TrimEnd(')'), CultureInfo.InvariantCulture);

        var list = await Run(null, "list");
        Assert.Equal([$"big\t{Rows}\tversion {version}"], list.StdoutLines);
        await using (var mux = await ConnectionMultiplexer.ConnectAsync(redis.Configuration))
        {
            var (_, entries) = await new RedisBankStore(mux).LoadAsync("big", Ct);
            Assert.Equal(Rows, entries.Count);
            var byId = entries.ToDictionary(e => e.Id, StringComparer.Ordinal);
            foreach (int i in new[] { 0, 29_999, 30_000, 123_457, Rows - 1 }) // both sides of a chunk boundary, and the last row
            {
                var e = byId[$"s-{i}"];
                Assert.Equal((hashes[i], 50 + i % 51, $"label-{i % 7}", "list-a", new DateTimeOffset(2026, 11, 3, 8, 15, 30, TimeSpan.Zero)),
                    (e.Hash.ToString(), e.Quality, e.Label, e.Source, e.AddedAt));
            }
        }

        // The refused row is the file's last: the first pass finds it before a single chunk is written, even with --replace.
        var refused = await Run(null, "import", "--bank", "big", "--replace", badAtTheEnd, "--chunk-rows", "30000");
        Assert.Equal(ExitCodes.Failure, await refused.WaitForExitAsync(ct: Ct));
        Assert.Equal([$"moderation bank import: line {Rows + 1}: not a 64-hex-digit PDQ hash: 'not-a-hash'"], refused.StderrLines);
        Assert.Empty(refused.StdoutLines);
        var intoNew = await Run(null, "import", "--bank", "fresh", badAtTheEnd);
        Assert.Equal(ExitCodes.Failure, await intoNew.WaitForExitAsync(ct: Ct));
        Assert.Equal([$"big\t{Rows}\tversion {version}"], (await Run(null, "list")).StdoutLines); // big untouched, no bank fresh

        // Standard input cannot be read twice: it is copied to a temporary file, then imported the same way.
        var piped = CliProcess.Start(["bank", "import", "--bank", "piped", "-", "--redis", redis.Configuration]);
        started.Add(piped);
        foreach (var line in File.ReadLines(good).Take(3)) await piped.StandardInput.WriteLineAsync(line);
        piped.StandardInput.Close();
        Assert.True(await piped.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, piped.Transcript());
        Assert.Equal("imported 3 hashes into piped (version 1)", Assert.Single(piped.StdoutLines));

        // Memory: under a 32 MiB managed-heap limit the whole file imports in chunks of 10,000, while the same file read
        // into one chunk (what reading it all into memory first amounts to) does not fit: the limit is tight enough to tell.
        var heapLimit = new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x2000000" };
        var streamed = await Run(heapLimit, "import", "--bank", "bounded", good, "--chunk-rows", "10000", "--progress", "none");
        Assert.True(await streamed.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, streamed.Transcript());
        Assert.Matches(@"^imported 200000 hashes into bounded \(version \d+\)$", Assert.Single(streamed.StdoutLines));
        var whole = await Run(heapLimit, "import", "--bank", "whole", good, "--chunk-rows", "1000000", "--progress", "none");
        Assert.NotEqual(ExitCodes.Ok, await whole.WaitForExitAsync(ct: Ct));
        Assert.Contains(whole.StderrLines, l => l.Contains(nameof(OutOfMemoryException), StringComparison.Ordinal));

        foreach (var cli in started) cli.Dispose();
    }

    [Fact]
    public async Task Digest_banks_stream_the_same_way_one_transaction_a_chunk_and_a_bad_last_row_writes_nothing()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var list = Path.Combine(_dir.FullName, "ncii.csv");
        File.WriteAllLines(list, Enumerable.Range(0, 5).Select(i => $"{new string((char)('a' + i), 64)},n-{i}"));
        var bad = Path.Combine(_dir.FullName, "ncii-bad.csv");
        File.WriteAllLines(bad, [.. File.ReadAllLines(list), "0123,n-short"]);

        var started = new List<CliProcess>();
        async Task<CliProcess> Run(params string[] args)
        {
            var cli = await CliProcess.RunAsync(["bank", .. args, "--redis", redis.Configuration + ",syncTimeout=15000,asyncTimeout=15000"], ct: Ct);
            started.Add(cli);
            return cli;
        }

        var imported = await Run("import", "--kind", "sha256", "--bank", "ncii", list, "--chunk-rows", "2");
        Assert.True(await imported.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, imported.Transcript());
        Assert.Equal("imported 5 sha256 digests into ncii (version 3)", Assert.Single(imported.StdoutLines)); // chunks of 2, 2, 1
        Assert.Equal(["ncii\t5\tversion 3"], (await Run("list", "--kind", "sha256")).StdoutLines);

        var refused = await Run("import", "--kind", "sha256", "--bank", "other", bad, "--chunk-rows", "2");
        Assert.Equal(ExitCodes.Failure, await refused.WaitForExitAsync(ct: Ct));
        Assert.Equal(["moderation bank import: line 6: not a 64-hex-digit sha256 digest: '0123'"], refused.StderrLines);
        Assert.Equal(["ncii\t5\tversion 3"], (await Run("list", "--kind", "sha256")).StdoutLines); // no bank other

        // Limits are checked before anything is read; text banks, read whole, take no streaming options.
        var zero = await Run("import", "--kind", "sha256", "--bank", "ncii", list, "--chunk-rows", "0");
        Assert.Equal(ExitCodes.Usage, await zero.WaitForExitAsync(ct: Ct));
        Assert.Contains(zero.StderrLines, l => l.Contains("--chunk-rows must be 1-1000000", StringComparison.Ordinal));
        var terms = Path.Combine(_dir.FullName, "terms.csv");
        File.WriteAllText(terms, "buy followers,spam\n");
        var text = await Run("import", "--kind", "terms", "--bank", "words", terms, "--chunk-rows", "10");
        Assert.Equal(ExitCodes.Usage, await text.WaitForExitAsync(ct: Ct));
        Assert.Equal(["moderation bank import: --chunk-rows and --progress are for hash and digest banks"], text.StderrLines);

        // --replace empties the bank with the first chunk only: the five rows are all there after it.
        var replaced = await Run("import", "--kind", "sha256", "--bank", "ncii", "--replace", list, "--chunk-rows", "2");
        Assert.Equal(ExitCodes.Ok, await replaced.WaitForExitAsync(ct: Ct));
        Assert.Equal(["ncii\t5\tversion 6"], (await Run("list", "--kind", "sha256")).StdoutLines);
        foreach (var cli in started) cli.Dispose();
    }

    [Fact]
    public async Task A_store_lost_after_the_first_chunk_is_reported_with_how_many_entries_were_written()
    {
        var redis = await Redis.Tests.Servers.RedisServerProcess.StartAsync(Ct);
        await using var _ = redis;
        var file = Path.Combine(_dir.FullName, "cut.csv");
        var random = new Random(7);
        var bytes = new byte[32];
        using (var writer = new StreamWriter(file, false, new UTF8Encoding(false)))
        {
            for (int i = 0; i < 300_000; i++)
            {
                random.NextBytes(bytes);
                writer.WriteLine($"{Convert.ToHexStringLower(bytes)},90,c-{i}");
            }
        }
        using var cli = CliProcess.Start(["bank", "import", "--bank", "cut", file, "--chunk-rows", "1000", "--progress", "none",
            "--redis", redis.Configuration + ",syncTimeout=5000,asyncTimeout=5000,connectRetry=0"]);
        await using (var mux = await ConnectionMultiplexer.ConnectAsync(redis.Configuration))
        {
            var store = new RedisBankStore(mux);
            // The server goes away once the first chunks are in (the checking pass writes nothing).
            while (await store.GetVersionAsync("cut") == 0) await Task.Delay(5, Ct);
        }
        await redis.StopAsync();
        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        var line = Assert.Single(cli.StderrLines);
        var match = System.Text.RegularExpressions.Regex.Match(line, @"^moderation bank import: Redis unavailable after (\d+) entries were written \(version \d+\): .+; import the file again$");
        Assert.True(match.Success, line);
        Assert.InRange(long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), 1_000, 299_000);
        Assert.Empty(cli.StdoutLines);
    }
}
