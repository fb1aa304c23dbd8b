using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker;

/// <summary>
/// Builds the worker's generic host. Configuration, later sources winning: appsettings.json,
/// environment (<c>Kafka__BootstrapServers</c>…), then <paramref name="overrides"/> (command-line flags).
/// </summary>
public static class WorkerHost
{
    public static IHost Build(IReadOnlyDictionary<string, string?> overrides, Action<ILoggingBuilder>? logging = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
            DisableDefaults = false,
        });
        builder.Configuration.AddInMemoryCollection(overrides);
        if (logging is not null)
        {
            builder.Logging.ClearProviders();
            logging(builder.Logging);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }

        builder.Services.AddOptions<KafkaOptions>().BindConfiguration("Kafka").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<ScreeningOptions>().BindConfiguration("Screening").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<InferenceOptions>().BindConfiguration("Inference").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<MediaOptions>().BindConfiguration("Media");
        builder.Services.AddOptions<RedisOptions>().BindConfiguration("Redis");
        builder.Services.AddOptions<BanksOptions>().BindConfiguration("Banks").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));
        builder.Services.AddSingleton<ScreeningStats>();
        builder.Services.AddSingleton<ScreeningService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ScreeningService>());
        return builder.Build();
    }
}
