using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Media;
using SkiaSharp;

namespace Moderation.Streams.Hashing.Tests.Banks;

/// <summary>
/// A bank of originals, queried with edited copies: each copy must find its own original and nothing else.
/// Originals are the large photos of the PDQ vectors and generated pictures with seeds no other test uses.
/// The 256x256 labelme photos are left out on purpose: PDQ itself moves some of them past 31 bits under
/// edits this small (measured with ImageMagick: q0122 resized to 50% is 60 bits away, q1050 mirrored is 32
/// from its own flip-y dihedral hash even losslessly), so they would test PDQ's limits, not this code.
/// Crops are 5% of the area (2.5% per side): 5% per side (about 10% of the area) moves bridge-1 by 52 bits,
/// beyond any PDQ threshold; PDQ is not built to survive cropping.
/// </summary>
public sealed class NearDuplicateMatchingTests
{
    private static readonly string[] UnrelatedPhotos =
    [
        "data/reg-test-input/dih/bridge-1-original.jpg",
        "data/reg-test-input/labelme-subset/q0122.jpg",
        "data/reg-test-input/labelme-subset/q0291.jpg",
        "data/reg-test-input/labelme-subset/q0746.jpg",
        "data/reg-test-input/labelme-subset/q1050.jpg",
        "data/reg-test-input/labelme-subset/q2821.jpg",
        "data/reg-test-input/pen-and-coaster.png",
    ];

    private static readonly string[] Photos =
    [
        "data/reg-test-input/dih/bridge-1-original.jpg",
        "data/reg-test-input/pen-and-coaster.png",
        "data/misc-images/c.png",
    ];

    private static IEnumerable<(string Id, SKBitmap Bitmap)> Originals()
    {
        foreach (var photo in Photos)
        {
            // Edits draw in RGBA whatever the file holds (several of these photos are greyscale JPEGs).
            using var decoded = SKBitmap.Decode(TestData.VectorPath(photo.Split('/')));
            var rgba = new SKBitmap(new SKImageInfo(decoded.Width, decoded.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
            using (var canvas = new SKCanvas(rgba))
            using (var image = SKImage.FromBitmap(decoded))
                canvas.DrawImage(image, 0, 0, SKSamplingOptions.Default);
            yield return (Path.GetFileName(photo), rgba);
        }
        for (int seed = 7001; seed <= 7006; seed++) yield return ($"generated-{seed}", SampleImages.Render(seed, 800, 600));
    }

    private static readonly (string Name, Func<SKBitmap, byte[]> Edit)[] Edits =
    [
        ("re-encoded as JPEG q70", b => SampleImages.Encode(b, SKEncodedImageFormat.Jpeg, 70)),
        ("resized to 50%", b => Jpeg(Resize(b, b.Width / 2, b.Height / 2))),
        ("cropped by 5% of its area", b => Jpeg(Crop(b, 1 - Math.Sqrt(0.95)))),
        ("watermarked", b => Jpeg(Watermark(b))),
        ("mirrored", b => Jpeg(Mirror(b))),
    ];

    [Fact]
    public void Edited_copies_match_their_own_original_and_no_other()
    {
        var hasher = new PdqHasher();
        var originals = Originals().ToList();
        var entries = originals.Select(o => new BankEntry("known-bad", o.Id, Hash(hasher, SampleImages.Encode(o.Bitmap)).Hash, Hash(hasher, SampleImages.Encode(o.Bitmap)).Quality, null, null, DateTimeOffset.UnixEpoch)).ToList();
        Assert.All(entries, e => Assert.True(e.Quality >= 50, $"{e.Id} has quality {e.Quality}"));
        var index = new BankIndex(entries, new BankMatchOptions { Dihedral = true });

        var failures = new List<string>();
        foreach (var (id, bitmap) in originals)
        {
            foreach (var (name, edit) in Edits)
            {
                var copy = Hash(hasher, edit(bitmap));
                var matches = index.FindAll(copy.Hash, copy.Quality, hasher.DihedralOfLast());
                if (matches.Count != 1 || matches[0].Id != id)
                    failures.Add($"{id} {name}: q {copy.Quality}, {PdqHash.Distance(copy.Hash, entries.First(e => e.Id == id).Hash)} from its original; matched [{string.Join(", ", matches.Select(m => $"{m.Id} at {m.Distance} ({m.Transform})"))}]");
            }
            bitmap.Dispose();
        }
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void Mirrored_copies_match_only_when_dihedral_matching_is_on()
    {
        var hasher = new PdqHasher();
        using var original = SampleImages.Render(7101, 640, 480);
        var hash = Hash(hasher, SampleImages.Encode(original));
        var entry = new BankEntry("b", "o", hash.Hash, hash.Quality, null, null, DateTimeOffset.UnixEpoch);
        var mirrored = Hash(hasher, Jpeg(Mirror(original)));
        var dihedral = hasher.DihedralOfLast();

        Assert.Empty(new BankIndex([entry], new BankMatchOptions { Dihedral = false }).FindAll(mirrored.Hash, mirrored.Quality, dihedral));
        var match = Assert.Single(new BankIndex([entry]).FindAll(mirrored.Hash, mirrored.Quality, dihedral)); // on by default
        Assert.Equal(PdqTransform.FlipY, match.Transform);
    }

    [Fact]
    public void Unrelated_pictures_and_low_quality_queries_do_not_match()
    {
        var hasher = new PdqHasher();
        var bank = Enumerable.Range(8000, 40).Select(seed => Hash(hasher, SampleImages.Png(seed, 320, 240)))
            .Select((h, i) => new BankEntry("b", $"g-{i}", h.Hash, h.Quality, null, null, DateTimeOffset.UnixEpoch)).ToList();
        var index = new BankIndex(bank, new BankMatchOptions { Dihedral = true });
        foreach (var photo in UnrelatedPhotos)
        {
            var image = ImageDecoder.DecodeFile(TestData.VectorPath(photo.Split('/')));
            var hash = hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels);
            Assert.Empty(index.FindAll(hash.Hash, hash.Quality, hasher.DihedralOfLast()));
        }
        foreach (var seed in Enumerable.Range(9000, 40))
        {
            var hash = Hash(hasher, SampleImages.Jpeg(seed));
            Assert.Empty(index.FindAll(hash.Hash, hash.Quality, hasher.DihedralOfLast()));
        }
        // The very hash of a bank entry, at quality 49, is not trusted to match.
        Assert.Empty(index.FindAll(bank[0].Hash, 49));
        Assert.Null(index.FindBest(bank[0].Hash, 49));
        Assert.Equal(0, index.FindBest(bank[0].Hash, 50)!.Value.Distance);
    }

    private static PdqResult Hash(PdqHasher hasher, byte[] encoded)
    {
        var image = ImageDecoder.Decode(encoded);
        return hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels);
    }

    private static byte[] Jpeg(SKBitmap bitmap)
    {
        using (bitmap) return SampleImages.Encode(bitmap, SKEncodedImageFormat.Jpeg, 85);
    }

    private static SKBitmap Resize(SKBitmap source, int width, int height) =>
        source.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None));

    private static SKBitmap Crop(SKBitmap source, double share)
    {
        int dx = (int)(source.Width * share / 2), dy = (int)(source.Height * share / 2);
        var target = new SKBitmap(new SKImageInfo(source.Width - 2 * dx, source.Height - 2 * dy, SKColorType.Rgba8888, SKAlphaType.Opaque));
        source.ExtractSubset(target, new SKRectI(dx, dy, source.Width - dx, source.Height - dy));
        return target.Copy();
    }

    private static SKBitmap Watermark(SKBitmap source)
    {
        var target = source.Copy(SKColorType.Rgba8888);
        using var canvas = new SKCanvas(target);
        using var paint = new SKPaint { Color = new SKColor(255, 255, 255, 90), IsAntialias = true };
        float w = target.Width, h = target.Height;
        // A translucent banner with a darker bar in it, bottom right: about 3% of the picture.
        canvas.DrawRect(w * 0.7f, h * 0.9f, w * 0.26f, h * 0.06f, paint);
        paint.Color = new SKColor(0, 0, 0, 110);
        canvas.DrawRect(w * 0.72f, h * 0.92f, w * 0.22f, h * 0.02f, paint);
        return target;
    }

    private static SKBitmap Mirror(SKBitmap source)
    {
        var target = new SKBitmap(new SKImageInfo(source.Width, source.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(target);
        canvas.Scale(-1, 1, source.Width / 2f, 0);
        using var image = SKImage.FromBitmap(source);
        canvas.DrawImage(image, 0, 0, SKSamplingOptions.Default);
        return target;
    }
}
