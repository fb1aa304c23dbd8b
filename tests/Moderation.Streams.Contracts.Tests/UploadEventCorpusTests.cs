using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>The committed event corpus (<c>corpus/manifest.csv</c>: file, expected outcome): each gives exactly its code.</summary>
public class UploadEventCorpusTests
{
    public const string Ok = "ok";

    private static string CorpusDirectory => Path.Combine(AppContext.BaseDirectory, "corpus");

    private static IEnumerable<(string File, string Expected)> Manifest() =>
        File.ReadLines(Path.Combine(CorpusDirectory, "manifest.csv")).Skip(1).Select(l => l.Split(',')).Select(p => (p[0], p[1]));

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var (file, expected) in Manifest()) data.Add(file, expected);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_corpus_event_yields_its_expected_outcome(string file, string expected)
    {
        var bytes = File.ReadAllBytes(Path.Combine(CorpusDirectory, file));
        if (expected == Ok)
        {
            var parsed = UploadEventParser.Parse(bytes);
            Assert.True(UploadEventParser.IsValidId(parsed.ContentId));
            Assert.True(parsed.MediaType == MediaTypes.Text
                ? parsed.Media is null && parsed.Text is { Length: > 0 }
                : parsed.Media!.Url is not null ^ parsed.Media.Data is not null);
        }
        else
        {
            Assert.Equal(expected, Assert.Throws<ModerationException>(() => UploadEventParser.Parse(bytes)).Code);
        }
    }

    [Fact]
    public void The_manifest_lists_every_corpus_file()
    {
        var present = Directory.GetFiles(CorpusDirectory).Select(Path.GetFileName).Where(f => f is not ("manifest.csv" or "make_corpus.py" or "README.md"));
        Assert.Equal(present.Order(), Manifest().Select(m => m.File).Order());
        Assert.All(Manifest(), m => Assert.True(m.Expected == Ok || ErrorCodes.All.Contains(m.Expected), m.Expected));
    }
}
