using System.CommandLine;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>moderation hash FILE...</c>: PDQ hashes in the reference <c>pdq-photo-hasher</c>'s output format. Thin on
/// purpose: decoding is <see cref="ImageDecoder"/>, hashing and line formatting are tested in Hashing.Tests.
/// </summary>
internal static class HashCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("files")
        {
            Description = "Image files (JPEG, PNG, WebP, GIF, BMP) or videos (MP4, MOV, WebM: one line per sampled frame).",
            Arity = ArgumentArity.OneOrMore,
        };
        var dihedral = new Option<bool>("--dihedral")
        {
            Description = "Print the 8 dihedral hashes on one line (the reference's --pdqdih-across): orig,rot90,rot180,rot270,flipx,flipy,flipp,flipm,quality,path.",
        };
        var maxBytes = CommonOptions.MaxBytes();
        var upright = new Option<bool>("--upright")
        {
            Description = "Hash each picture upright, as a viewer shows it and the worker hashes it (its EXIF orientation applied). " +
                          "Default: the stored pixels, as Meta's reference pdq-photo-hasher reads them (and bank import expects).",
        };
        var fullDecode = new Option<bool>("--full-decode")
        {
            Description = "Decode every JPEG in full: exactly the reference's pixels and hash, about half as fast on large JPEGs. " +
                          "Default: a JPEG with both sides over 1024 is decoded DCT-scaled (both sides kept >= 512), " +
                          "within upstream's porting rule (<= 10 bits on JPEG quality >= 80).",
        };
        var command = new Command("hash", "Print each file's PDQ hash as hash,quality,path (as Meta's pdq-photo-hasher).");
        command.Arguments.Add(files);
        command.Options.Add(dihedral);
        command.Options.Add(upright);
        command.Options.Add(fullDecode);
        command.Options.Add(maxBytes);
        command.SetAction(parseResult =>
        {
            long cap = parseResult.GetValue(maxBytes);
            // A large JPEG is decoded DCT-scaled (1/2, 1/4 or 1/8) while both sides stay >= 512, PDQ's resize side: the
            // worker's decode, within upstream's porting rule (<= 10 bits from the reference on JPEGs of quality >= 80;
            // `bench pdq` prints the bits against the full decode and, with --reference, against Meta's binary).
            // PNGs and JPEGs too small to scale are decoded in full: the reference's own pixels, hashed exactly. A JPEG's
            // stored pixels go through PdqDecoder (markers checked, not the entropy walk the worker makes: see there).
            var limits = DecodeLimits.Default with { MaxBytes = cap, JpegScaleMinSide = parseResult.GetValue(fullDecode) ? 0 : DecodeLimits.ScaledJpegMinSide };
            var hasher = new PdqHasher();
            var jpegDecoder = new PdqDecoder(limits.JpegScaleMinSide);
            bool across = parseResult.GetValue(dihedral);
            var orientation = parseResult.GetValue(upright) ? ImageOrientation.Upright : ImageOrientation.AsStored;
            return PerFile.Run("hash", parseResult.GetValue(files) ?? [], path =>
            {
                // Videos (MP4/MOV/WebM, by their bytes): one line per sampled frame, path#t=SECONDS (VideoFiles.cs).
                if (VideoFiles.IsVideo(path))
                {
                    foreach (var line in VideoFiles.HashLines(path, across, cap)) Console.Out.WriteLine(line);
                    return;
                }
                var bytes = ImageDecoder.ReadFile(path, limits.MaxBytes);
                if (!across && orientation == ImageOrientation.AsStored && MediaSniffer.Sniff(bytes) == MediaFormat.Jpeg)
                {
                    // The stored pixels of a JPEG, straight from the codec into a reused buffer, RGBA hashed in place.
                    var pixels = jpegDecoder.Decode(bytes, limits);
                    Console.Out.WriteLine(hasher.HashDecoded(pixels.Pixels, pixels.Width, pixels.Height, pixels.Channels).FormatLine(path));
                    return;
                }
                var image = ImageDecoder.Decode(bytes, limits, orientation);
                Console.Out.WriteLine(across
                    ? hasher.HashDihedral(image.Pixels, image.Width, image.Height, image.Channels).FormatLine(path)
                    : hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels).FormatLine(path));
            });
        });
        return command;
    }
}
