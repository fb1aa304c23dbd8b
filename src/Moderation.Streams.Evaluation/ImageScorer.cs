using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;

namespace Moderation.Streams.Evaluation;

/// <summary>
/// Runs a classifier over a labelled set in batches; images that cannot be read are listed, not fatal. Images are
/// decoded as the worker decodes them (<see cref="MediaOptions.Decode"/>'s defaults: large JPEGs at reduced scale)
/// unless told otherwise, so thresholds chosen here are the ones production sees.
/// </summary>
public static class ImageScorer
{
    public static (IReadOnlyList<ScoredImage> Scored, IReadOnlyList<string> Failed) Score(LabelledSet set, IImageClassifier classifier,
        int batchSize = 16, IProgress<int>? progress = null, DecodeLimits? decode = null)
    {
        decode ??= new MediaOptions().Decode;
        var scored = new List<ScoredImage>(set.Images.Count);
        var failed = new List<string>();
        var batch = new List<(LabelledImage Item, DecodedImage Image)>(batchSize);
        int done = 0;
        foreach (var item in set.Images)
        {
            try
            {
                batch.Add((item, ImageDecoder.DecodeFile(item.Path, decode)));
            }
            catch (Exception e) when (e is ModerationException or IOException or UnauthorizedAccessException)
            {
                failed.Add($"{item.Path}: {e.Message}");
            }
            if (batch.Count == batchSize) Flush();
        }
        Flush();
        return (scored, failed);

        void Flush()
        {
            if (batch.Count == 0) return;
            var scores = classifier.Classify([.. batch.Select(b => b.Image)]);
            for (int i = 0; i < batch.Count; i++) scored.Add(new ScoredImage(batch[i].Item.Path, batch[i].Item.Label, scores[i].ToDictionary()));
            done += batch.Count;
            progress?.Report(done);
            batch.Clear();
        }
    }
}
