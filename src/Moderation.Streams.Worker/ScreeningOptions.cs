using System.ComponentModel.DataAnnotations;

namespace Moderation.Streams.Worker;

/// <summary>Screening settings (configuration section <c>Screening</c>).</summary>
public sealed class ScreeningOptions
{
    /// <summary>Classifier from the model registry.</summary>
    [Required(AllowEmptyStrings = false)]
    public string Model { get; set; } = "nsfw-mobilenet-v2";

    /// <summary>Folder holding the .onnx files; null = the <c>models</c> folder next to the executable.</summary>
    public string? ModelsDirectory { get; set; }

    /// <summary>Policy JSON file; null = the built-in default policy.</summary>
    public string? PolicyFile { get; set; }

    /// <summary>Decisions are cached and reused only for PDQ hashes of at least this quality (flat images hash alike).</summary>
    [Range(0, 100)]
    public int MinCacheQuality { get; set; } = 50;

    /// <summary>Exact byte-for-byte duplicates remembered (a keyed GMAC of the file → its PDQ), so a picture uploaded again skips
    /// decode and PDQ; about 120 bytes each (400 with dihedral bank matching). 0 turns it off.</summary>
    [Range(0, 10_000_000)]
    public int ExactDuplicates { get; set; } = 65_536;

    /// <summary>Uploader and campaign counts decided while another is in flight are sent together, in one script call, up to
    /// this many (1: one call each).</summary>
    [Range(1, Redis.Uploaders.UploaderCountBatcher.MaxBatchLimit)]
    public int UploaderBatchSize { get; set; } = 32;

    /// <summary>The longest an upload's count waits for the count in flight before it is sent anyway (ms); a lone upload
    /// never waits.</summary>
    [Range(0, 1000)]
    public int UploaderBatchWindowMs { get; set; } = 5;
}
