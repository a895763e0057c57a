using System.Reflection;
using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using OrdersEs.Api.Admin;
using OrdersEs.Api.Http;
using OrdersEs.Api.Operations;
using OrdersEs.Api.Pipeline;
using OrdersEs.Infrastructure.Configuration;

namespace OrdersEs.Api;

/// <summary>The Api layer's registrations and its HTTP pipeline.</summary>
public static class DependencyInjection
{
    /// <summary>
    /// Mediator with its validation and logging pipeline, problem details, OpenAPI, limits, the admin options and OTLP export,
    /// and the validators and endpoint groups of <paramref name="serviceAssemblies"/>, found by convention.
    /// Throws <see cref="ConfigurationException"/> when event sourcing is not enabled: the service keeps its aggregates as events.
    /// </summary>
    public static IServiceCollection AddApi(this IServiceCollection services, IConfiguration configuration, params Assembly[] serviceAssemblies)
    {
        RequireEventSourcing(configuration);
        services.AddMediator((MediatorOptions options) =>
        {
            options.ServiceLifetime = ServiceLifetime.Singleton;
            options.PipelineBehaviors = [typeof(LoggingBehavior<,>), typeof(ValidationBehavior<,>)];
        });
        services.AddValidatorsFromAssemblies(serviceAssemblies, ServiceLifetime.Singleton, includeInternalTypes: true);
        services.AddSingleton(typeof(AggregateWriter<>));
        services.AddSingleton(typeof(AggregateHistory<>));
        services.AddSingleton<AggregateEvents>();
        services.AddEndpointGroups(serviceAssemblies);

        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
            ApiProblems.Complete(context.HttpContext, context.ProblemDetails));
        services.AddExceptionHandler<ApiExceptionHandler>();
        // Binding failures (malformed JSON, wrong types, wrong content type) throw, so the handler above answers them.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            options.SerializerOptions.AllowDuplicateProperties = false; // {"id":"a","id":"b"} means nothing certain
            options.SerializerOptions.Converters.Add(new PlainTextJsonConverter());
        });
        services.Configure<KestrelServerOptions>(options =>
        {
            options.Limits.MaxRequestBodySize = RequestBodyLimit.MaxBytes;
            // Header values as Latin-1 (obs-text, RFC 9110 5.5) rather than refused by the server with a bare 400:
            // the API's own checks then answer a problem naming the header.
            options.RequestHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
        });

        services.AddOptions<AdminOptions>().Bind(configuration.GetSection(AdminOptions.SectionKey));
        services.AddObservability(configuration);
        services.AddOpenApi(options => options.AddOperationTransformer((operation, context, _) =>
        {
            if (context.Description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true)
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(HeaderParameter(ApiRequestContext.TenantHeader, "The tenant; a tenant sees and changes only its own data."));
                operation.Parameters.Add(HeaderParameter(ApiRequestContext.CorrelationHeader, "Stored in the events' metadata and echoed; generated when absent."));
                // Bound as text so that a malformed time is the API's own 400, but documented as what it is.
                if (context.Description.ParameterDescriptions.Any(p => p.ModelMetadata?.ContainerType == typeof(ReadAtParameters)))
                {
                    foreach (var parameter in operation.Parameters.OfType<OpenApiParameter>().Where(p => p.Name == ReadAtParameters.AsOfName))
                        parameter.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" };
                }
            }
            return Task.CompletedTask;
        }));
        return services;
    }

    /// <summary>The middleware and every endpoint: the features' endpoint groups, admin, health, OpenAPI and Swagger UI.</summary>
    public static WebApplication UseApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(RequestBodyLimit.Middleware);
        app.Use(RequestCharset.Middleware);
        app.Use(PlainText.Middleware);
        app.Use(ApiRequestContext.Middleware);
        app.MapEndpointGroups();
        app.MapAdmin();
        app.MapOperations();
        return app;
    }

    /// <summary>
    /// Runs the options validations that would otherwise first run when the host starts, so a bad value stops
    /// start-up as a <see cref="ConfigurationException"/> or <see cref="OptionsValidationException"/> naming its key.
    /// </summary>
    public static WebApplication ValidateConfiguration(this WebApplication app)
    {
        app.Services.GetService<IStartupValidator>()?.Validate();
        return app;
    }

    // With the module disabled nothing would store an aggregate; the read models would fail in DI instead.
    private static void RequireEventSourcing(IConfiguration configuration)
    {
        const string why = "this service keeps its aggregates as events and cannot run without event sourcing";
        const string accepted = "true";
        var value = configuration[EventSourcingOptions.EnabledKey];
        if (string.IsNullOrWhiteSpace(value))
        {
            var contentRoot = configuration[HostDefaults.ContentRootKey] ?? Environment.CurrentDirectory;
            var settingsFile = Path.Combine(contentRoot, "appsettings.json");
            throw ConfigurationException.NotSet(EventSourcingOptions.EnabledKey,
                File.Exists(settingsFile) ? why : $"{why}, and no {settingsFile} was found (start the service from its folder, or set PYFLY__EVENTSOURCING__ENABLED=true)",
                accepted);
        }
        // Any other value than a boolean is reported by AddEventSourcing, with the values it accepts.
        if (bool.TryParse(value.Trim(), out var enabled) && !enabled)
            throw new ConfigurationException(EventSourcingOptions.EnabledKey, value, why, accepted);
    }

    private static OpenApiParameter HeaderParameter(string name, string description) => new()
    {
        Name = name,
        In = ParameterLocation.Header,
        Required = false,
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
    };
}
