using System.Text;
using System.Text.Json;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.TextBanks;
using Moderation.Streams.Text;

namespace Moderation.Streams.Cli.Commands;

/// <summary>The <c>bank</c> verbs for term, domain and meaning banks (<c>--kind terms|domains|texts</c>): the same verbs as for hash
/// banks, on <see cref="RedisTextBankStore"/>.</summary>
internal static class TextBankVerbs
{
    public const string Hashes = "hashes";

    public static IReadOnlyList<string> Kinds { get; } = [Hashes, .. TextBankKinds.All];

    public static async Task<int> ImportAsync(RedisBankStore hashes, string kind, string bank, FileInfo path, bool replace, float? threshold = null)
    {
        if (threshold is { } t && (kind != TextBankKinds.Texts || MeaningBank.ThresholdRefusal(t) is not null))
        {
            Console.Error.WriteLine($"moderation bank import: --threshold: {(kind != TextBankKinds.Texts ? "only a texts bank has one" : MeaningBank.ThresholdRefusal(t))}");
            return ExitCodes.Usage;
        }
        var store = new RedisTextBankStore(hashes.Connection);
        StreamReader reader;
        try
        {
            // A named file must be a regular file (a FIFO would block, /dev/zero never end): refused before Redis is written.
            reader = path.Name == "-"
                ? new StreamReader(Console.OpenStandardInput())
                : new StreamReader(new FileStream(RegularFile.OpenRead(path.FullName, ErrorCodes.UnsupportedMedia), FileAccess.Read));
        }
        catch (ModerationException e)
        {
            Console.Error.WriteLine($"moderation bank import: {path}: {e.Code}: {e.Message}");
            return ExitCodes.Failure;
        }
        using var _ = reader;
        try
        {
            long version = await store.ImportAsync(bank, kind, reader, replace, threshold);
            var info = (await store.ListAsync()).Single(b => b.Name == bank);
            Console.Out.WriteLine(info.Threshold is { } th
                ? $"imported into {bank}: {info.Count} {kind} (version {version}, threshold {th.ToString(System.Globalization.CultureInfo.InvariantCulture)})"
                : $"imported into {bank}: {info.Count} {kind} (version {version})");
            return ExitCodes.Ok;
        }
        catch (TextBankException e)
        {
            foreach (var error in e.Errors) Console.Error.WriteLine($"moderation bank import: line {error.Line}: {error.Message}");
            Console.Error.WriteLine($"moderation bank import: {e.Message}; nothing imported");
            return ExitCodes.Failure;
        }
    }

    public static async Task<int> ExportAsync(RedisBankStore hashes, string bank, FileInfo? path)
    {
        var store = new RedisTextBankStore(hashes.Connection);
        string text;
        try
        {
            text = await store.ExportAsync(BankNames(bank));
        }
        catch (KeyNotFoundException e)
        {
            Console.Error.WriteLine($"moderation bank export: {e.Message}");
            return ExitCodes.Failure;
        }
        using var writer = path is null ? new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) : new StreamWriter(path.FullName, false, new UTF8Encoding(false));
        writer.Write(text);
        return ExitCodes.Ok;
    }

    public static async Task<int> ListAsync(RedisBankStore hashes, string kind, bool json)
    {
        foreach (var info in (await new RedisTextBankStore(hashes.Connection).ListAsync()).Where(b => b.Kind == kind))
        {
            Console.Out.WriteLine(json
                ? info.Threshold is { } t
                    ? JsonSerializer.Serialize(new { name = info.Name, kind = info.Kind, count = info.Count, version = info.Version, threshold = t })
                    : JsonSerializer.Serialize(new { name = info.Name, kind = info.Kind, count = info.Count, version = info.Version })
                : info.Threshold is { } th
                    ? $"{info.Name}\t{info.Count}\tversion {info.Version}\tthreshold {th.ToString(System.Globalization.CultureInfo.InvariantCulture)}"
                    : $"{info.Name}\t{info.Count}\tversion {info.Version}");
        }
        return ExitCodes.Ok;
    }

    public static async Task<int> RemoveAsync(RedisBankStore hashes, string bank, string[] ids, bool all)
    {
        var store = new RedisTextBankStore(hashes.Connection);
        try
        {
            if (all)
            {
                await store.DeleteAsync(BankNames(bank));
                Console.Out.WriteLine($"deleted bank {bank}");
                return ExitCodes.Ok;
            }
            var (removed, _) = await store.RemoveAsync(BankNames(bank), ids);
            Console.Out.WriteLine($"removed {removed} of {ids.Length} from {bank}");
            return ExitCodes.Ok;
        }
        catch (KeyNotFoundException e)
        {
            Console.Error.WriteLine($"moderation bank remove: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    private static string BankNames(string bank) => Hashing.Banks.BankNames.Validate(bank);
}
