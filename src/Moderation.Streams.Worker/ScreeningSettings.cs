using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Worker;

/// <summary>What a pipeline is built from: the worker's settings sections, each bound directly to its library's options
/// class and validated (data annotations and each class's own checks) before anything starts.</summary>
public sealed record ScreeningSettings(KafkaOptions Kafka, ScreeningOptions Screening, MediaOptions Media, RedisOptions Redis, BankMatcherOptions Banks,
    InferenceOptions? Inference = null, MediaRetryOptions? MediaRetry = null, TextOptions? Text = null)
{
    /// <summary>Binds every section from <paramref name="config"/> (a verb that builds a pipeline without the host: replay).</summary>
    /// <exception cref="OptionsValidationException">A section is invalid: the failures name the section and the setting.</exception>
    public static ScreeningSettings Bind(IConfiguration config) => new(
        Section<KafkaOptions>(config, "Kafka"), Section<ScreeningOptions>(config, "Screening"), Section<MediaOptions>(config, "Media"),
        Section<RedisOptions>(config, "Redis"), Section<BankMatcherOptions>(config, "Banks"), Section<InferenceOptions>(config, "Inference"),
        Section<MediaRetryOptions>(config, "Media:Retry"), Section<TextOptions>(config, "Text"));

    /// <summary>Binds every section from the worker's configuration sources, in its order: appsettings.json next to the
    /// executable, the environment (<c>Kafka__BootstrapServers</c>…), then <paramref name="overrides"/> (a verb's flags).</summary>
    /// <exception cref="OptionsValidationException">A section is invalid.</exception>
    public static ScreeningSettings Load(IEnumerable<KeyValuePair<string, string?>> overrides) => Bind(new ConfigurationBuilder()
        .SetBasePath(AppContext.BaseDirectory)
        .AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables()
        .AddInMemoryCollection(overrides)
        .Build());

    /// <summary>Registers every section with the host: bound, validated at start (the host refuses to start on a bad one).</summary>
    public static void Register(IServiceCollection services)
    {
        Add<KafkaOptions>(services, "Kafka");
        Add<ScreeningOptions>(services, "Screening");
        Add<MediaOptions>(services, "Media");
        Add<RedisOptions>(services, "Redis");
        Add<BankMatcherOptions>(services, "Banks");
        Add<InferenceOptions>(services, "Inference");
        Add<MediaRetryOptions>(services, "Media:Retry");
        Add<TextOptions>(services, "Text");
    }

    private static void Add<T>(IServiceCollection services, string section) where T : class =>
        services.AddOptions<T>().BindConfiguration(section).ValidateDataAnnotations().ValidateOnStart();

    private static T Section<T>(IConfiguration config, string section) where T : class, new()
    {
        var value = config.GetSection(section).Get<T>() ?? new T();
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true))
            throw new OptionsValidationException(section, typeof(T), [.. results.Select(r => $"{section}: {r.ErrorMessage}")]);
        return value;
    }
}
