namespace Moderation.Streams.Text.Embeddings;

/// <summary>Turns a text into a unit-length sentence embedding. Implementations are thread-safe.</summary>
public interface ITextEmbedder
{
    /// <summary>The model's name, e.g. <c>all-MiniLM-L6-v2</c>.</summary>
    string Model { get; }

    /// <summary>The vector of <paramref name="text"/> (unit length: cosine similarity is a dot product).</summary>
    Task<float[]> EmbedAsync(string text, CancellationToken ct = default);
}
