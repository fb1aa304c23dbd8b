using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Media.Tests;

/// <summary>The committed corpus (<c>corpus/manifest.csv</c>: file, expected outcome): every file gives exactly its expected code.</summary>
public class MediaCorpusTests
{
    public const string Ok = "ok";

    public static string CorpusDirectory => Path.Combine(AppContext.BaseDirectory, "corpus");

    public static IEnumerable<(string File, string Expected)> Manifest() =>
        File.ReadLines(Path.Combine(CorpusDirectory, "manifest.csv")).Skip(1)
            .Select(l => l.Split(','))
            .Select(p => (p[0], p[1]));

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var (file, expected) in Manifest()) data.Add(file, expected);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Each_corpus_file_yields_its_expected_outcome(string file, string expected)
    {
        var bytes = await File.ReadAllBytesAsync(Path.Combine(CorpusDirectory, file), TestContext.Current.CancellationToken);
        if (expected == Ok)
        {
            var image = await ImageDecoder.DecodeAsync(bytes, ct: TestContext.Current.CancellationToken);
            Assert.True(image.Width > 0 && image.Height > 0);
        }
        else
        {
            var e = await Assert.ThrowsAsync<ModerationException>(() => ImageDecoder.DecodeAsync(bytes, ct: TestContext.Current.CancellationToken));
            Assert.Equal(expected, e.Code);
        }
    }

    [Fact]
    public void The_manifest_lists_every_corpus_file_and_every_outcome_is_a_contract_code()
    {
        var listed = Manifest().Select(m => m.File).ToHashSet();
        var present = Directory.GetFiles(CorpusDirectory).Select(Path.GetFileName).Where(f => f is not ("manifest.csv" or "urls.csv" or "make_corpus.py" or "README.md")).ToHashSet();
        Assert.Equal(present.Order(), listed.Order());
        Assert.All(Manifest(), m => Assert.True(m.Expected == Ok || ErrorCodes.All.Contains(m.Expected), m.Expected));
        // Hostile files outnumber good ones, and every decoder outcome is represented.
        Assert.Superset(new HashSet<string> { Ok, ErrorCodes.UnsupportedMedia, ErrorCodes.UndecodableMedia, ErrorCodes.MediaTooLarge }, Manifest().Select(m => m.Expected).ToHashSet());
    }
}
