using System.Runtime.InteropServices;
using System.Text.Json;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>moderation text match</c> as a process: texts from arguments or standard input, one JSON line per text in the
/// format DESIGN.md fixes (<c>bank</c> = file name without extension, offsets in UTF-16 units of the original text),
/// exit 0 ok, 1 failure, 2 bad usage. Every run is bounded by <see cref="ModerationProcess.DefaultDeadline"/>.
/// </summary>
public sealed partial class TextMatchCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("text-match-");

    public void Dispose() => _dir.Delete(true);

    private string File(string name, string content)
    {
        var path = Path.Combine(_dir.FullName, name);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    private string Terms => File("fraud.csv", "pattern,category,id,mode\nscam,scam,t1\n\"free\\s+money\",spam,r1,regex\n");

    private string Domains => File("phish.list.txt", "domain,category,id\nbad.example,phishing,d1\n");

    [Fact]
    public async Task Texts_given_as_arguments_print_one_json_line_each_in_the_fixed_format()
    {
        using var cli = await CliProcess.RunAsync(
            ["text", "match", "--terms", Terms, "--domains", Domains, "Ｓ𝐂AM at hxxps://www.bad[.]example/x", "nothing here"], ct: Ct);

        Assert.Equal(ExitCodes.Ok, await cli.WaitForExitAsync(ct: Ct));
        Assert.Equal(
            [
                """{"text":"\uFF33\uD835\uDC02AM at hxxps://www.bad[.]example/x","matches":[""" +
                """{"kind":"term","bank":"fraud","id":"t1","category":"scam","start":0,"end":5},""" +
                """{"kind":"domain","bank":"phish.list","id":"d1","category":"phishing","start":17,"end":34}]}""",
                """{"text":"nothing here","matches":[]}""",
            ],
            cli.StdoutLines);
        Assert.Empty(cli.StderrLines);
        // 𝐂 is two UTF-16 units: SCAM is [0,5), www.bad[.]example is [17,34).
        Assert.Equal("www.bad[.]example", "Ｓ𝐂AM at hxxps://www.bad[.]example/x"[17..34]);
    }

    [Fact]
    public async Task Without_arguments_each_standard_input_line_is_a_text()
    {
        using var cli = CliProcess.Start(["text", "match", "--terms", Terms]);
        await cli.StandardInput.WriteAsync("s.c.a.m\r\n\nget FREE   money\nscampi");
        cli.StandardInput.Close();

        Assert.Equal(ExitCodes.Ok, await cli.WaitForExitAsync(ct: Ct));
        var lines = cli.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["s.c.a.m", "", "get FREE   money", "scampi"], lines.Select(l => l.GetProperty("text").GetString()));
        Assert.Equal([1, 0, 1, 0], lines.Select(l => l.GetProperty("matches").GetArrayLength()));
        var regex = lines[2].GetProperty("matches")[0];
        Assert.Equal(("r1", 4, 16), (regex.GetProperty("id").GetString(), regex.GetProperty("start").GetInt32(), regex.GetProperty("end").GetInt32()));
        Assert.Equal(["kind", "bank", "id", "category", "start", "end"], regex.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task Control_format_and_line_separator_characters_in_a_text_stay_escaped_on_one_line()
    {
        const string hostile = "pay\u001B[31m s\u200Bcam\r\nnext\u2028\u202E line";

        using var cli = await CliProcess.RunAsync(["text", "match", "--terms", Terms, hostile], ct: Ct);

        Assert.Equal(ExitCodes.Ok, await cli.WaitForExitAsync(ct: Ct));
        var line = Assert.Single(cli.StdoutLines);
        Assert.True(Contracts.SafeText.IsClean(line), line);
        var json = JsonDocument.Parse(line).RootElement;
        Assert.Equal(hostile, json.GetProperty("text").GetString());
        var match = Assert.Single(json.GetProperty("matches").EnumerateArray());
        Assert.Equal("s\u200Bcam", hostile[match.GetProperty("start").GetInt32()..match.GetProperty("end").GetInt32()]);
    }

    private string Known => File("known-scams.csv",
        "text,category,id\nSend me your bank login and I will double your money in a day,scam,double-money\nDM me to buy cheap pills without a prescription,drugs,pills\n");

    [Fact]
    public async Task Meaning_banks_match_paraphrases_with_a_similarity_and_no_span()
    {
        using var cli = await CliProcess.RunAsync(["text", "match", "--texts", Known, "--terms", Terms,
            "give me your bank password and I'll double your cash by tomorrow", "what a lovely sunset over the lake"], ct: Ct);

        Assert.Equal(ExitCodes.Ok, await cli.WaitForExitAsync(ct: Ct));
        Assert.Empty(cli.StderrLines);
        Assert.Equal(2, cli.StdoutLines.Count);
        Assert.Matches("""^\{"text":"give me your bank password and I\\u0027ll double your cash by tomorrow","matches":\[""" +
            """\{"kind":"text","bank":"known-scams","id":"double-money","category":"scam","similarity":0\.\d{1,4}\}\]\}$""", cli.StdoutLines[0]);
        var similarity = JsonDocument.Parse(cli.StdoutLines[0]).RootElement.GetProperty("matches")[0].GetProperty("similarity").GetSingle();
        Assert.InRange(similarity, Text.MeaningBank.DefaultThreshold, 1f);
        Assert.Equal("""{"text":"what a lovely sunset over the lake","matches":[]}""", cli.StdoutLines[1]);
    }

    [Fact]
    public async Task Standard_input_with_a_meaning_bank_keeps_the_order_of_its_lines_across_chunks()
    {
        using var cli = CliProcess.Start(["text", "match", "--texts", Known]);
        var lines = Enumerable.Range(0, 70).Select(i => i % 2 == 0 ? $"DM me for cheap pills, no prescription needed #{i}" : $"sunset number {i} over the lake").ToList();
        await cli.StandardInput.WriteAsync(string.Join('\n', lines) + "\n");
        cli.StandardInput.Close();

        Assert.Equal(ExitCodes.Ok, await cli.WaitForExitAsync(ct: Ct));
        var results = cli.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(lines, results.Select(r => r.GetProperty("text").GetString()));
        Assert.Equal(lines.Select((_, i) => i % 2 == 0 ? 1 : 0), results.Select(r => r.GetProperty("matches").GetArrayLength()));
    }

    [Fact]
    public async Task The_texts_threshold_decides_and_a_bad_one_is_bad_usage()
    {
        using (var strict = await CliProcess.RunAsync(["text", "match", "--texts", Known, "--texts-threshold", "0.99",
            "give me your bank password and I'll double your cash by tomorrow"], ct: Ct))
        {
            Assert.Equal(ExitCodes.Ok, await strict.WaitForExitAsync(ct: Ct));
            Assert.Equal(0, JsonDocument.Parse(Assert.Single(strict.StdoutLines)).RootElement.GetProperty("matches").GetArrayLength());
        }
        using var bad = await CliProcess.RunAsync(["text", "match", "--texts", Known, "--texts-threshold", "1.5", "x"], ct: Ct);
        Assert.Equal(ExitCodes.Usage, await bad.WaitForExitAsync(ct: Ct));
        Assert.Empty(bad.StdoutLines);
        Assert.Contains(bad.StderrLines, l => l.Contains("--texts-threshold"));
    }

    [Fact]
    public async Task A_meaning_bank_with_bad_rows_fails_before_any_text()
    {
        var bad = File("bad-texts.csv", "text,category\n,scam\nok text,scam,id,extra\n");
        using var cli = await CliProcess.RunAsync(["text", "match", "--texts", bad, "x"], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        Assert.Empty(cli.StdoutLines);
        Assert.Contains($"moderation text match: {bad}:2: text must have 1 to {Text.MeaningBank.MaxTextChars} characters", cli.StderrLines);
        Assert.Contains($"moderation text match: {bad}:3: expected text,category[,id]", cli.StderrLines);
    }

    [Fact]
    public async Task No_bank_at_all_is_bad_usage()
    {
        using var cli = await CliProcess.RunAsync(["text", "match", "scam"], ct: Ct);

        Assert.Equal(ExitCodes.Usage, await cli.WaitForExitAsync(ct: Ct));
        Assert.Empty(cli.StdoutLines);
    }

    [Fact]
    public async Task A_bank_with_bad_rows_reports_each_by_line_and_nothing_is_matched()
    {
        var bad = File("bad.csv", "pattern,category,id,mode\nscam,scam\n\"(a+)+$\",x,r,regex\nfoo,bar,baz,fuzzy\n");

        using var cli = await CliProcess.RunAsync(["text", "match", "--terms", bad, "--domains", Domains, "scam"], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        Assert.Empty(cli.StdoutLines);
        Assert.Contains(cli.StderrLines, l => l.StartsWith($"moderation text match: {bad}:3: regex nests unbounded quantifiers", StringComparison.Ordinal));
        Assert.Contains(cli.StderrLines, l => l.StartsWith($"moderation text match: {bad}:4: mode must be", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bank_files_that_are_devices_fifos_or_missing_fail_without_blocking()
    {
        var fifo = Path.Combine(_dir.FullName, "pipe.csv");
        Assert.Equal(0, mkfifo(fifo, 0x1B6));
        var missing = Path.Combine(_dir.FullName, "missing.csv");

        using var cli = await CliProcess.RunAsync(["text", "match", "--terms", "/dev/zero", "--terms", fifo, "--domains", missing, "scam"], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        Assert.Empty(cli.StdoutLines);
        Assert.Contains("moderation text match: /dev/zero: unsupported-media: not a regular file (a character device)", cli.StderrLines);
        Assert.Contains($"moderation text match: {fifo}: unsupported-media: not a regular file (a FIFO)", cli.StderrLines);
        Assert.Contains(cli.StderrLines, l => l.StartsWith($"moderation text match: {missing}: media-unavailable", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Help_describes_the_verb_and_its_options()
    {
        using var cli = await CliProcess.RunAsync(["text", "match", "--help"], ct: Ct);

        Assert.Equal(ExitCodes.Ok, await cli.WaitForExitAsync(ct: Ct));
        var help = string.Join('\n', cli.StdoutLines);
        Assert.Contains("--terms", help);
        Assert.Contains("--domains", help);
        Assert.Contains("--texts", help);
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int mkfifo(string path, uint mode);
}
