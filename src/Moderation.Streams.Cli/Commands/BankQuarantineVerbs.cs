using System.CommandLine;
using System.Text.Json;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Cli.Commands;

/// <summary><c>bank quarantined</c> and <c>bank release</c>: the bank entries flood control switched to review-only
/// (the policy's <c>bank_floods</c>), and giving one its bank's rule back.</summary>
internal static class BankQuarantineVerbs
{
    public static Command Quarantined(Option<string?> redis)
    {
        var json = new Option<bool>("--json") { Description = "One JSON object per entry" };
        var command = new Command("quarantined", "List bank entries quarantined for matching too many uploads (policy bank_floods): their matches are reviews until released.") { redis, json };
        command.SetAction(async (parse, ct) => await BankCommand.WithStore(parse, redis, "quarantined", async store =>
        {
            var entries = await new RedisBankFloods(store.Connection).ListAsync();
            foreach (var e in entries)
                Console.Out.WriteLine(parse.GetValue(json)
                    ? JsonSerializer.Serialize(new { bank = e.Bank, id = e.Id, uploads = e.Uploads, window = e.Window, quarantined_at = e.At })
                    : $"{e.Bank}\t{e.Id}\t{e.Uploads} uploads in {e.Window}\tsince {e.At:yyyy-MM-ddTHH:mm:ssZ}");
            if (!parse.GetValue(json)) Console.Error.WriteLine($"{entries.Count} quarantined");
            return ExitCodes.Ok;
        }));
        return command;
    }

    public static Command Release(Option<string?> redis, Option<string> bank)
    {
        var id = new Option<string>("--id") { Description = "The quarantined entry's id", Required = true };
        var command = new Command("release", "Give a quarantined bank entry its bank's rule back (and clear its count).") { redis, bank, id };
        command.SetAction(async (parse, ct) => await BankCommand.WithStore(parse, redis, "release", async store =>
        {
            var name = BankNames.Validate(parse.GetValue(bank));
            var entry = parse.GetValue(id)!;
            if (!await new RedisBankFloods(store.Connection).ReleaseAsync(name, entry))
            {
                Console.Error.WriteLine($"moderation bank release: {name}/{entry} is not quarantined (see 'moderation bank quarantined')");
                return ExitCodes.Failure;
            }
            Console.Out.WriteLine($"released {name}/{entry}");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
