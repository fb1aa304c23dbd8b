using Moderation.Streams.Contracts;
using Moderation.Streams.Evaluation;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;

namespace Moderation.Streams.Evaluation.Tests;

/// <summary>
/// The whole evaluation on a folder labelled honestly: rendered shapes and gradients (<see cref="SampleImages.Render"/>)
/// are drawings; the LabelMe street photographs of the shared PDQ vectors (<c>../shared/pdq-vectors</c>) are neutral.
/// The policy under test takes drawings down (as a photo-only surface might), so the set has positives and negatives
/// for one takedown class. A pipeline check — the model's real quality needs a real labelled set.
/// </summary>
public sealed class ReportTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("evaluation-");

    public void Dispose() => _dir.Delete(true);

    [Fact]
    public void A_labelled_folder_gives_a_report_with_plots_and_a_proposed_policy_that_meets_the_target_on_it()
    {
        var csv = new List<string> { "path,label" };
        for (int i = 0; i < 12; i++)
        {
            File.WriteAllBytes(Path.Combine(_dir.FullName, $"drawing-{i}.png"), SampleImages.Png(8100 + i));
            csv.Add($"drawing-{i}.png,drawing");
        }
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Moderation.Streams.sln"))) root = root.Parent!;
        var photos = Directory.GetFiles(Path.Combine(root.FullName, "..", "shared", "pdq-vectors", "data", "reg-test-input", "labelme-subset"), "*.jpg");
        Assert.Equal(7, photos.Length);
        foreach (var photo in photos) csv.Add($"{Path.GetFullPath(photo)},neutral");
        int total = 12 + photos.Length;
        File.WriteAllLines(Path.Combine(_dir.FullName, "labels.csv"), csv);
        var basePolicy = new Policy { Version = "photos-only-1", Takedown = new Dictionary<string, float> { ["drawing"] = 0.5f }, Review = new Dictionary<string, float> { ["drawing"] = 0.3f } };

        var set = LabelledSet.Load(Path.Combine(_dir.FullName, "labels.csv"));
        using var model = OnnxImageClassifier.Load();
        var (scored, failed) = ImageScorer.Score(set, model, batchSize: 8);
        Assert.Empty(failed);
        Assert.Equal(total, scored.Count);
        var result = Evaluator.Evaluate(scored, set.Mode, basePolicy, new EvaluationSettings { TargetPrecision = 0.9, Model = model.Model.Name });
        var report = Path.Combine(_dir.FullName, "report");
        var files = EvaluationReport.Write(result, report, set.Source);

        foreach (var plot in new[] { "pr-drawing.png", "sweep-drawing.png", "hist-drawing.png", "pr-neutral.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(report, plot));
            Assert.True(bytes.Length > 4_000, $"{plot} is {bytes.Length} bytes");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
            var image = ImageDecoder.Decode(bytes);
            Assert.Equal((800, 500), (image.Width, image.Height));
        }
        Assert.False(File.Exists(Path.Combine(report, "pr-porn.png"))); // no porn in the set: no curve to draw
        var summary = File.ReadAllText(Path.Combine(report, "summary.md"));
        Assert.Contains("| **drawing** |", summary);
        Assert.Contains("| average precision |", summary);
        Assert.Matches(@"\| drawing \| 12 \| [01]\.\d{3} \|", summary);
        Assert.Contains("![pr-drawing.png](pr-drawing.png)", summary);
        Assert.Equal(total + 1, File.ReadAllLines(Path.Combine(report, "scores.csv")).Length);

        // The written policy, loaded back like the worker loads it, meets the precision asked for on this set.
        Assert.True(result.MeetsTarget, summary);
        var proposed = Policy.Load(Path.Combine(report, "proposed-policy.json"));
        var outcome = Evaluator.Outcome(scored, i => i.Label == "drawing", proposed, model.Model.Name);
        Assert.True(outcome.TakedownPrecision >= 0.9, summary);
        Assert.True(outcome.Takedowns > 0);
        Assert.Equal(result.ProposedOutcome, outcome);
        Assert.Contains(files, f => f.EndsWith("summary.md", StringComparison.Ordinal));
    }

    [Fact]
    public void Images_are_decoded_as_the_worker_decodes_them_unless_told_otherwise()
    {
        File.WriteAllBytes(Path.Combine(_dir.FullName, "large.jpg"), SampleImages.Jpeg(8200, 2400, 1800));
        File.WriteAllLines(Path.Combine(_dir.FullName, "labels.csv"), ["path,label", "large.jpg,drawing"]);
        var set = LabelledSet.Load(Path.Combine(_dir.FullName, "labels.csv"));
        using var sizes = new SizeRecorder();

        ImageScorer.Score(set, sizes);
        ImageScorer.Score(set, sizes, decode: new DecodeLimits());

        // The worker's default (Media:Decode:JpegScaleMinSide 512) reads it at half scale; plain limits in full.
        Assert.Equal([(1200, 900), (2400, 1800)], sizes.Seen);
    }

    /// <summary>A classifier that only notes the size of each picture it is given.</summary>
    private sealed class SizeRecorder : IImageClassifier
    {
        public List<(int Width, int Height)> Seen { get; } = [];
        public ModelDescriptor Model => ModelRegistry.NsfwMobileNetV2;
        public string Device => "none";

        public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images)
        {
            Seen.AddRange(images.Select(i => (i.Width, i.Height)));
            return [.. images.Select(_ => new ClassScores(Model.Labels, new float[Model.Labels.Count]))];
        }

        public void Dispose()
        {
        }
    }
}
