// The provider table: services whose keys have no prefix of their own (32 hex characters, 40
// alphanumerics, a UUID...) and are recognisable only by the service named where they are
// assigned. One row per provider: the names it goes by in variable and config keys, and the
// documented shape of its credentials (alphabet and exact length, or a fixed part). Shapes are
// Keyward's own reading of the providers' API documentation.
//
// A finding needs all of:
// - the provider's name as a word of the assigned name (`MAILGUN_API_KEY`, `mailgunKey`,
//   `mailgun.api_key`; not `emailgunKey`, where it is inside another word), or of the key that
//   holds it in a config file (`mailgun:` then `  api_key: ...`, `[mailgun]`, `"mailgun": {`);
//   a comment naming the provider does not count;
// - an assigned name that ends in a secret word (key, token, secret, password...), with no word
//   that says the value is public or something else (`public`, `site`, `hash`, `id`...);
// - a value of exactly the provider's shape that looks generated (entropy, no long runs); the
//   engine's placeholder filter applies after.
//
// Cost: these are assignment rules. Assignments are found once per text from the secret
// keywords (../assignments.ts), and the table is looked up once per assignment (a Map from
// names to providers); the rules of one provider compare that lookup's result.

import type { Assignment } from '../assignments';
import { splitWords } from '../assignments';
import { charClasses, longestRun, shannon } from '../entropy';
import type { RuleContext } from '../types';
import type { AssignmentRule } from './helpers';

export interface NamedProvider {
  /** Rule id's stem: the rule is `<slug>-credential`. */
  slug: string;
  display: string;
  category: string;
  /** Names, lowercased, each one or more words run together (`campaignmonitor`, `ai21`). */
  names: string[];
  /** The shapes as the table writes them (`h32`, `u`, `re:...`); compiled on first use (`shapesOf`). */
  codes: string[];
  /** When set, the assigned name's last word must be one of these (Pusher's `key` is public, its `secret` is not). */
  lastWords?: string[];
}

/**
 * slug, name, category, names (space-separated), shapes (space-separated), last words.
 * Shapes: `h32` lowercase hex of 32, `H32` uppercase hex, `a32` alphanumeric, `a20-24` a range,
 * `l32` lowercase and digits, `U32` uppercase and digits, `w32` URL-safe base64 alphabet
 * (`A-Za-z0-9_-`), `b40` base64 alphabet (`A-Za-z0-9+/`), `u` a UUID, `re:...` a regex.
 */
const TABLE: readonly (readonly [string, string, string, string, string, string?])[] = [
  // observability
  ['datadog', 'Datadog', 'observability', 'datadog dd', 'h32 h40'],
  ['opsgenie', 'Opsgenie', 'observability', 'opsgenie', 'u'],
  ['pagerduty', 'PagerDuty', 'observability', 'pagerduty', 're:^[A-Za-z0-9_+-]{20}$'], // docs: PagerDuty "API Access Keys" (REST API keys are 20-character strings)
  ['bugsnag', 'Bugsnag', 'observability', 'bugsnag', 'h32'],
  ['rollbar', 'Rollbar', 'observability', 'rollbar', 'h32'],
  ['airbrake', 'Airbrake', 'observability', 'airbrake', 'h32 h40'],
  ['loggly', 'Loggly', 'observability', 'loggly', 'u'],
  ['logzio', 'Logz.io', 'observability', 'logzio', 'a32'],
  ['papertrail', 'Papertrail', 'observability', 'papertrail', 'a20'],
  ['sumologic', 'Sumo Logic', 'observability', 'sumologic sumo', 'a14 a64'],
  ['mezmo', 'Mezmo (LogDNA)', 'observability', 'mezmo logdna', 'h32'],
  ['splunk', 'Splunk HEC', 'observability', 'splunk', 'u'],
  // docs: Honeybadger API v3 "Authentication" (user, account and OAuth tokens start hbu_, hba_, hbo_; no length given)
  ['honeybadger', 'Honeybadger', 'observability', 'honeybadger', 'a20-24 re:^hbp_[A-Za-z0-9]{36}$ re:^hb[uao]_[A-Za-z0-9]{30,50}$'],
  ['raygun', 'Raygun', 'observability', 'raygun', 'a22'],
  ['cronitor', 'Cronitor', 'observability', 'cronitor', 'h32'],
  ['betterstack', 'Better Stack', 'observability', 'betterstack betteruptime logtail', 'a24'],
  // docs: UptimeRobot API v2 (account-specific, monitor-specific and read-only keys, `u<number>-...`): read-only keys start `ur`
  ['uptimerobot', 'UptimeRobot', 'observability', 'uptimerobot', 're:^(?:u|ur|m)\\d{6,9}-[0-9a-f]{24}$'],
  ['statuspage', 'Atlassian Statuspage', 'observability', 'statuspage', 'u h32'],
  ['checkly', 'Checkly', 'observability', 'checkly', 're:^cu_[0-9a-f]{32}$'],
  ['instana', 'IBM Instana', 'observability', 'instana', 'w22'],
  ['signalfx', 'Splunk Observability (SignalFx)', 'observability', 'signalfx sfx', 'w22'],
  ['appsignal', 'AppSignal', 'observability', 'appsignal', 'u'],
  ['scalyr', 'Scalyr (DataSet)', 'observability', 'scalyr dataset', 're:^[A-Za-z0-9_/-]{40,46}-$'],
  ['healthchecks', 'Healthchecks.io', 'observability', 'healthchecks', 'w32'],
  // CI, testing, code quality, registries
  ['travis', 'Travis CI', 'ci', 'travis travisci', 'w22'],
  ['codecov', 'Codecov', 'ci', 'codecov', 'u'],
  ['coveralls', 'Coveralls', 'ci', 'coveralls', 'a32-37'],
  ['snyk', 'Snyk', 'ci', 'snyk', 'u'],
  ['codacy', 'Codacy', 'ci', 'codacy', 'a20'],
  ['codeclimate', 'Code Climate', 'ci', 'codeclimate', 'h64'],
  ['percy', 'Percy', 'ci', 'percy', 'h64'],
  ['browserstack', 'BrowserStack', 'ci', 'browserstack', 'a20'],
  ['saucelabs', 'Sauce Labs', 'ci', 'saucelabs sauce', 'u'],
  ['lambdatest', 'LambdaTest', 'ci', 'lambdatest', 'a50'],
  ['cypress', 'Cypress Cloud', 'ci', 'cypress', 'u'],
  ['drone', 'Drone CI', 'ci', 'drone', 'a32'],
  ['cloudsmith', 'Cloudsmith', 'ci', 'cloudsmith', 'h40'],
  ['packagecloud', 'packagecloud', 'ci', 'packagecloud', 'h48'],
  ['gemfury', 'Gemfury', 'ci', 'gemfury fury', 'a20'],
  ['fossa', 'FOSSA', 'ci', 'fossa', 'h32'],
  // cloud, hosting, DNS, storage, CDN
  ['linode', 'Linode (Akamai Cloud)', 'cloud', 'linode', 'h64'],
  ['vultr', 'Vultr', 'cloud', 'vultr', 'U36'],
  ['scaleway', 'Scaleway', 'cloud', 'scaleway scw', 'u re:^SCW[A-Z0-9]{17}$'],
  ['hetzner', 'Hetzner Cloud', 'cloud', 'hetzner hcloud', 'a64'], // docs: Hetzner's hetzner.hcloud Ansible collection guide (its example token: 64 alphanumerics)
  ['ovh', 'OVHcloud', 'cloud', 'ovh', 'a16 a32'],
  ['railway', 'Railway', 'cloud', 'railway', 'u'],
  // docs: Doppler "Deno Deploy" integration guide (personal tokens ddp_, organization tokens ddo_; ddo_'s length taken as ddp_'s)
  ['denodeploy', 'Deno Deploy', 'cloud', 'deno denodeploy', 're:^dd[po]_[A-Za-z0-9]{36}$'],
  ['surge', 'Surge', 'cloud', 'surge', 'h32'],
  ['gandi', 'Gandi', 'cloud', 'gandi', 'a24'],
  ['namecheap', 'Namecheap', 'cloud', 'namecheap', 'h32'],
  ['godaddy', 'GoDaddy', 'cloud', 'godaddy', 're:^[A-Za-z0-9]{8,14}_[A-Za-z0-9]{20,24}$ a22'],
  ['porkbun', 'Porkbun', 'cloud', 'porkbun', 're:^[ps]k1_[0-9a-f]{64}$'],
  ['dnsimple', 'DNSimple', 'cloud', 'dnsimple', 're:^dnsimple_[ua]_[A-Za-z0-9]{30}$ a32'],
  ['ns1', 'NS1', 'cloud', 'ns1', 'a20'],
  ['backblaze', 'Backblaze B2', 'storage', 'backblaze b2', 're:^K[0-9A-Za-z+/]{30}$'],
  ['wasabi', 'Wasabi', 'storage', 'wasabi', 'U20 b40'],
  ['uploadcare', 'Uploadcare', 'storage', 'uploadcare', 'h20'],
  ['filestack', 'Filestack', 'storage', 'filestack', 'a22'],
  ['bunny', 'Bunny.net', 'cdn', 'bunny bunnycdn bunnynet', 'u re:^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{20}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'],
  ['fastly', 'Fastly', 'cdn', 'fastly', 'w32'],
  ['akamai', 'Akamai EdgeGrid', 'cdn', 'akamai edgegrid', 're:^[A-Za-z0-9+/]{43}=$'],
  ['cloudinary', 'Cloudinary', 'cdn', 'cloudinary', 'w27'],
  ['imagekit', 'ImageKit', 'cdn', 'imagekit', 're:^private_[A-Za-z0-9+/]{27}=$'],
  // databases and backends
  ['fauna', 'Fauna', 'database', 'fauna faunadb', 're:^fn[A-Za-z0-9_-]{38}$'],
  ['xata', 'Xata', 'database', 'xata', 're:^xau_[A-Za-z0-9]{32,40}$'],
  ['pinecone', 'Pinecone (legacy key)', 'database', 'pinecone', 'u'],
  // crypto and web3
  ['pinata', 'Pinata', 'crypto', 'pinata', 'h20 h64'],
  ['infura', 'Infura', 'crypto', 'infura', 'h32'],
  ['alchemy', 'Alchemy', 'crypto', 'alchemy', 'w32'],
  ['moralis', 'Moralis', 'crypto', 'moralis', 'a64'],
  ['etherscan', 'Etherscan', 'crypto', 'etherscan', 'U34'],
  ['bscscan', 'BscScan', 'crypto', 'bscscan', 'U34'],
  ['polygonscan', 'PolygonScan', 'crypto', 'polygonscan', 'U34'],
  ['arbiscan', 'Arbiscan', 'crypto', 'arbiscan', 'U34'],
  ['blockcypher', 'BlockCypher', 'crypto', 'blockcypher', 'h32'],
  ['binance', 'Binance', 'crypto', 'binance', 'a64'],
  ['kraken', 'Kraken', 'crypto', 'kraken', 're:^[A-Za-z0-9+/]{56}$ re:^[A-Za-z0-9+/]{86}==$'],
  ['bitfinex', 'Bitfinex', 'crypto', 'bitfinex', 'a43'],
  ['kucoin', 'KuCoin', 'crypto', 'kucoin', 'h24 u'],
  ['bybit', 'Bybit', 'crypto', 'bybit', 'a18 a36'],
  ['okx', 'OKX', 'crypto', 'okx okex', 'u H32'],
  ['bitstamp', 'Bitstamp', 'crypto', 'bitstamp', 'a32'],
  ['bittrex', 'Bittrex', 'crypto', 'bittrex', 'h32'],
  ['gateio', 'Gate.io', 'crypto', 'gateio', 'h32 h64'],
  ['coinmarketcap', 'CoinMarketCap', 'finance', 'coinmarketcap cmc', 'u'],
  ['coingecko', 'CoinGecko', 'finance', 'coingecko', 're:^CG-[A-Za-z0-9]{25}$'],
  // finance data
  ['alphavantage', 'Alpha Vantage', 'finance', 'alphavantage', 'U16'],
  ['polygonio', 'Polygon.io (Massive)', 'finance', 'polygon polygonio', 'w32'],
  ['finnhub', 'Finnhub', 'finance', 'finnhub', 'l20'],
  ['iexcloud', 'IEX Cloud', 'finance', 'iex iexcloud', 're:^T?[ps]k_[0-9a-f]{32}$'],
  ['twelvedata', 'Twelve Data', 'finance', 'twelvedata', 'h32'],
  ['fmp', 'Financial Modeling Prep', 'finance', 'financialmodelingprep fmp', 'a32'],
  ['marketstack', 'marketstack', 'finance', 'marketstack', 'h32'],
  ['fixer', 'Fixer', 'finance', 'fixer fixerio', 'h32'],
  ['currencylayer', 'currencylayer', 'finance', 'currencylayer', 'h32'],
  ['exchangerate', 'ExchangeRate-API', 'finance', 'exchangerate exchangerateapi', 'h24'],
  ['openexchangerates', 'Open Exchange Rates', 'finance', 'openexchangerates oxr', 'h32'],
  ['quandl', 'Nasdaq Data Link (Quandl)', 'finance', 'quandl nasdaqdatalink', 'w20'],
  ['tiingo', 'Tiingo', 'finance', 'tiingo', 'h40'],
  ['alpaca', 'Alpaca', 'finance', 'alpaca', 're:^[PA]K[A-Z0-9]{18}$ a40'],
  ['oanda', 'OANDA', 'finance', 'oanda', 're:^[0-9a-f]{32}-[0-9a-f]{32}$'],
  // payments, e-commerce, shipping
  ['razorpay', 'Razorpay key secret', 'payments', 'razorpay', 'a24'],
  ['paypal', 'PayPal', 'payments', 'paypal', 'w80'],
  ['authorizenet', 'Authorize.net', 'payments', 'authorizenet authnet', 'a16'],
  ['paystack', 'Paystack', 'payments', 'paystack', 're:^sk_(?:live|test)_[0-9a-f]{40}$'],
  ['gocardless', 'GoCardless', 'payments', 'gocardless', 're:^(?:live|sandbox)_[A-Za-z0-9_-]{40}$'],
  ['wise', 'Wise (TransferWise)', 'payments', 'wise transferwise', 'u'],
  ['recurly', 'Recurly', 'payments', 'recurly', 'h32'],
  ['chargebee', 'Chargebee', 'payments', 'chargebee', 're:^(?:live|test)_[A-Za-z0-9]{26,34}$'],
  ['paddle', 'Paddle', 'payments', 'paddle', 're:^pdl_(?:live|sdbx)_apikey_[a-z0-9]{26}_[A-Za-z0-9]{22}_[A-Za-z0-9]{3}$'],
  ['mercadopago', 'Mercado Pago', 'payments', 'mercadopago', 're:^(?:APP_USR|TEST)-\\d{16}-\\d{6}-[0-9a-f]{32}-\\d{6,10}$'],
  ['xendit', 'Xendit', 'payments', 'xendit', 're:^xnd_(?:development|production)_[A-Za-z0-9]{50,60}$'],
  ['midtrans', 'Midtrans', 'payments', 'midtrans', 're:^(?:SB-)?Mid-server-[A-Za-z0-9_-]{24}$'],
  ['woocommerce', 'WooCommerce', 'payments', 'woocommerce woo wc', 're:^c[ks]_[0-9a-f]{40}$'],
  ['bigcommerce', 'BigCommerce', 'payments', 'bigcommerce', 'l31'],
  ['etsy', 'Etsy', 'payments', 'etsy', 'l24'],
  ['shipengine', 'ShipEngine', 'payments', 'shipengine', 're:^(?:TEST_)?[A-Za-z0-9+/]{43}$'],
  ['aftership', 'AfterShip', 'payments', 'aftership', 're:^asat_[0-9a-f]{32}$ u'],
  ['shipstation', 'ShipStation', 'payments', 'shipstation', 'h32'],
  // email
  ['postmark', 'Postmark', 'email', 'postmark', 'u'],
  ['mailjet', 'Mailjet', 'email', 'mailjet', 'h32'],
  ['sparkpost', 'SparkPost', 'email', 'sparkpost', 'h40'],
  ['mandrill', 'Mandrill', 'email', 'mandrill', 'w22'],
  ['elasticemail', 'Elastic Email', 'email', 'elasticemail', 'H96'],
  ['mailerlite', 'MailerLite', 'email', 'mailerlite', 'h32'],
  ['mailtrap', 'Mailtrap', 'email', 'mailtrap', 'h32'],
  ['smtp2go', 'SMTP2GO', 'email', 'smtp2go', 're:^api-[0-9A-F]{32}$'],
  ['mailersend', 'MailerSend', 'email', 'mailersend', 're:^mlsn\\.[0-9a-f]{64}$'],
  ['sendpulse', 'SendPulse', 'email', 'sendpulse', 'h32'],
  ['emailoctopus', 'EmailOctopus', 'email', 'emailoctopus', 'u'],
  ['zerobounce', 'ZeroBounce', 'email', 'zerobounce', 'h32'],
  ['neverbounce', 'NeverBounce', 'email', 'neverbounce', 're:^(?:private|secret)_[0-9a-f]{32}$'],
  ['mailboxlayer', 'mailboxlayer', 'email', 'mailboxlayer', 'h32'],
  ['kickbox', 'Kickbox', 'email', 'kickbox', 're:^live_[0-9a-f]{64}$'],
  // marketing and CRM
  ['activecampaign', 'ActiveCampaign', 'marketing', 'activecampaign', 'h72'],
  ['convertkit', 'Kit (ConvertKit)', 'marketing', 'convertkit', 'w22 w43'],
  ['klaviyo', 'Klaviyo', 'marketing', 'klaviyo', 're:^pk_[0-9a-f]{34}$'], // docs: Klaviyo "Obtain API credentials" (private keys: pk_ and a longer string; the public key is 6 characters)
  ['getresponse', 'GetResponse', 'marketing', 'getresponse', 'l32'],
  ['moosend', 'Moosend', 'marketing', 'moosend', 'u'],
  ['omnisend', 'Omnisend', 'marketing', 'omnisend', 're:^[0-9a-f]{24}-[A-Za-z0-9]{50}$'],
  ['drip', 'Drip', 'marketing', 'drip', 'h32'],
  ['iterable', 'Iterable', 'marketing', 'iterable', 'h32'],
  ['braze', 'Braze', 'marketing', 'braze', 'u'],
  ['customerio', 'Customer.io', 'marketing', 'customerio', 'h20 h32'],
  ['hunter', 'Hunter.io', 'marketing', 'hunter hunterio', 'h40'],
  ['branchio', 'Branch', 'marketing', 'branch branchio', 're:^secret_live_[A-Za-z0-9]{32}$'],
  ['pipedrive', 'Pipedrive', 'crm', 'pipedrive', 'h40'],
  ['copper', 'Copper', 'crm', 'copper', 'h32'],
  ['insightly', 'Insightly', 'crm', 'insightly', 'u'],
  ['freshsales', 'Freshsales', 'crm', 'freshsales', 'w22'],
  ['zoho', 'Zoho', 'crm', 'zoho', 're:^1000\\.[0-9a-f]{32}\\.[0-9a-f]{32}$'],
  ['salesforce', 'Salesforce', 'crm', 'salesforce sfdc', 're:^00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{80,120}$'],
  ['closeio', 'Close', 'crm', 'closeio', 're:^api_[A-Za-z0-9]{22}\\.[A-Za-z0-9]{22}$'],
  // support desks
  ['zendesk', 'Zendesk', 'support', 'zendesk', 'a40'],
  ['freshdesk', 'Freshdesk', 'support', 'freshdesk', 'a20'],
  ['freshservice', 'Freshservice', 'support', 'freshservice', 'a20'],
  ['helpscout', 'Help Scout', 'support', 'helpscout', 'a32 h40'],
  ['gorgias', 'Gorgias', 'support', 'gorgias', 'h64'],
  ['crisp', 'Crisp', 'support', 'crisp', 'h64'],
  // analytics
  ['amplitude', 'Amplitude', 'analytics', 'amplitude', 'h32'],
  ['mixpanel', 'Mixpanel', 'analytics', 'mixpanel', 'h32'],
  ['segment', 'Segment', 'analytics', 'segment segmentio', 'a32'],
  ['plausible', 'Plausible', 'analytics', 'plausible', 'w64'],
  ['matomo', 'Matomo', 'analytics', 'matomo piwik', 'h32'],
  ['pendo', 'Pendo', 'analytics', 'pendo', 'u'],
  ['keen', 'Keen', 'analytics', 'keen keenio', 'H64 h64'],
  ['fullstory', 'FullStory', 'analytics', 'fullstory', 're:^(?:na1|eu1)\\.[A-Za-z0-9+/=]{40,120}$'],
  ['chartmogul', 'ChartMogul', 'analytics', 'chartmogul', 'h32'],
  ['rudderstack', 'RudderStack', 'analytics', 'rudderstack rudder', 'a27'],
  // maps, geo, weather
  ['openweathermap', 'OpenWeatherMap', 'weather', 'openweathermap openweather owm', 'h32'],
  ['weatherapi', 'WeatherAPI.com', 'weather', 'weatherapi', 'h31'],
  ['weatherstack', 'weatherstack', 'weather', 'weatherstack', 'h32'],
  ['accuweather', 'AccuWeather', 'weather', 'accuweather', 'a32'],
  ['tomorrowio', 'Tomorrow.io', 'weather', 'tomorrowio tomorrow climacell', 'a32'],
  ['weatherbit', 'Weatherbit', 'weather', 'weatherbit', 'h32'],
  ['stormglass', 'Stormglass', 'weather', 'stormglass', 're:^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'],
  ['tomtom', 'TomTom', 'maps', 'tomtom', 'a32'],
  ['locationiq', 'LocationIQ', 'maps', 'locationiq', 're:^pk\\.[0-9a-f]{32}$'],
  ['opencage', 'OpenCage', 'maps', 'opencage opencagedata', 'h32'],
  ['positionstack', 'positionstack', 'maps', 'positionstack', 'h32'],
  ['geoapify', 'Geoapify', 'maps', 'geoapify', 'h32'],
  ['ipinfo', 'IPinfo', 'maps', 'ipinfo', 'h14'],
  ['ipstack', 'ipstack', 'maps', 'ipstack', 'h32'],
  ['ipgeolocation', 'IPGeolocation', 'maps', 'ipgeolocation', 'h32'],
  ['ipdata', 'ipdata', 'maps', 'ipdata', 'h56'],
  ['abstractapi', 'Abstract API', 'maps', 'abstractapi', 'h32'],
  ['what3words', 'what3words', 'maps', 'what3words w3w', 'U8'],
  ['mapquest', 'MapQuest', 'maps', 'mapquest', 'a32'],
  ['bingmaps', 'Bing Maps', 'maps', 'bingmaps', 'w64'],
  ['radar', 'Radar', 'maps', 'radar', 're:^prj_(?:live|test)_sk_[0-9a-f]{40}$'],
  ['smarty', 'Smarty (SmartyStreets)', 'maps', 'smarty smartystreets', 'a20'],
  ['graphhopper', 'GraphHopper', 'maps', 'graphhopper', 'u'],
  // e-signature
  ['docusign', 'DocuSign', 'esign', 'docusign', 'u'],
  ['hellosign', 'Dropbox Sign (HelloSign)', 'esign', 'hellosign dropboxsign', 'h64'],
  ['pandadoc', 'PandaDoc', 'esign', 'pandadoc', 'h40'],
  ['signrequest', 'SignRequest', 'esign', 'signrequest', 'h40'],
  ['yousign', 'Yousign', 'esign', 'yousign', 'a32'],
  // CMS and content
  ['storyblok', 'Storyblok', 'cms', 'storyblok', 're:^[A-Za-z0-9]{22}tt$'],
  ['sanity', 'Sanity', 'cms', 'sanity', 're:^sk[A-Za-z0-9]{100,200}$'],
  ['ghost', 'Ghost', 'cms', 'ghost', 're:^[0-9a-f]{24}:[0-9a-f]{64}$ h26'],
  ['buttercms', 'ButterCMS', 'cms', 'buttercms butter', 'h40'],
  ['datocms', 'DatoCMS', 'cms', 'datocms', 'h30'],
  ['strapi', 'Strapi', 'cms', 'strapi', 'h256'],
  ['contentstack', 'Contentstack', 'cms', 'contentstack', 're:^cs[0-9a-f]{32}$'],
  ['webflow', 'Webflow', 'cms', 'webflow', 'h64'],
  ['gitbook', 'GitBook', 'cms', 'gitbook', 're:^gb_api_[A-Za-z0-9]{40}$'],
  ['lokalise', 'Lokalise', 'cms', 'lokalise', 'h40'],
  ['crowdin', 'Crowdin', 'cms', 'crowdin', 'h80'],
  ['phrase', 'Phrase', 'cms', 'phrase phraseapp', 'h64'],
  ['transifex', 'Transifex', 'cms', 'transifex', 're:^1/[0-9a-f]{40}$'],
  ['weglot', 'Weglot', 'cms', 'weglot', 're:^wg_[0-9a-f]{32}$'],
  // search and scraping
  ['algolia', 'Algolia', 'search', 'algolia', 'h32'],
  ['typesense', 'Typesense', 'search', 'typesense', 'a32'],
  ['swiftype', 'Elastic App Search (Swiftype)', 'search', 'swiftype appsearch', 're:^private-[a-z0-9]{24}$'],
  ['serpapi', 'SerpApi', 'search', 'serpapi', 'h64'],
  ['serper', 'Serper', 'search', 'serper', 'h40'],
  ['bingsearch', 'Bing Search', 'search', 'bing bingsearch', 'h32'],
  ['bravesearch', 'Brave Search', 'search', 'brave bravesearch', 're:^BSA[A-Za-z0-9_-]{27}$'],
  ['scrapingbee', 'ScrapingBee', 'search', 'scrapingbee', 'U80'],
  ['scraperapi', 'ScraperAPI', 'search', 'scraperapi', 'h32'],
  ['zenrows', 'ZenRows', 'search', 'zenrows', 'h40'],
  ['apify', 'Apify', 'search', 'apify', 're:^apify_api_[A-Za-z0-9]{36}$'],
  ['diffbot', 'Diffbot', 'search', 'diffbot', 'h32'],
  // feature flags
  ['configcat', 'ConfigCat', 'flags', 'configcat', 're:^(?:configcat-sdk-1/)?[A-Za-z0-9_-]{22}/[A-Za-z0-9_-]{22}$'],
  ['flagsmith', 'Flagsmith', 'flags', 'flagsmith', 're:^ser\\.[A-Za-z0-9]{22}$'],
  ['statsig', 'Statsig', 'flags', 'statsig', 're:^secret-[A-Za-z0-9]{43}$'],
  ['growthbook', 'GrowthBook', 'flags', 'growthbook', 're:^secret_[A-Za-z0-9]{16,40}$'],
  ['unleash', 'Unleash', 'flags', 'unleash', 're:^[a-z0-9*_-]{1,32}:[a-z0-9*_-]{1,32}\\.[0-9a-f]{64}$'],
  ['devcycle', 'DevCycle', 'flags', 'devcycle', 're:^dvc_server_[A-Za-z0-9_-]{20,80}$'],
  ['splitio', 'Split', 'flags', 'splitio', 'l36'],
  // messaging, push, SMS
  ['onesignal', 'OneSignal', 'messaging', 'onesignal', 'w48 re:^os_v2_app_[a-z0-9]{100,120}$'],
  ['airship', 'Airship', 'messaging', 'airship urbanairship', 'w22'],
  ['pushover', 'Pushover', 'messaging', 'pushover', 'l30'],
  ['pushbullet', 'Pushbullet', 'messaging', 'pushbullet', 're:^o\\.[A-Za-z0-9]{32}$'],
  ['pusher', 'Pusher Channels app secret', 'messaging', 'pusher', 'h20', 'secret'],
  ['pubnub', 'PubNub', 'messaging', 'pubnub', 're:^sec-c-[A-Za-z0-9+/=]{40,60}$'],
  ['getstream', 'Stream', 'messaging', 'getstream streamio', 'a64'],
  ['sendbird', 'Sendbird', 'messaging', 'sendbird', 'h40'],
  ['plivo', 'Plivo', 'sms', 'plivo', 'a40 U20'],
  // docs: Vonage "Create a secret" (API secrets are 8 to 25 characters with a lower, an upper and a digit; the issued one is 16):
  // from 10 up, so the 8-hex API key (an account id, not a secret) stays out
  ['vonage', 'Vonage (Nexmo)', 'sms', 'vonage nexmo', 'a10-25'],
  ['messagebird', 'MessageBird (Bird)', 'sms', 'messagebird', 'a25'],
  ['telnyx', 'Telnyx', 'sms', 'telnyx', 're:^KEY[0-9A-F]{32}_[A-Za-z0-9]{22}$'],
  ['sinch', 'Sinch', 'sms', 'sinch', 'h32'],
  ['clicksend', 'ClickSend', 'sms', 'clicksend', 'u'],
  ['textmagic', 'TextMagic', 'sms', 'textmagic', 'a30'],
  ['africastalking', "Africa's Talking", 'sms', 'africastalking', 're:^atsk_[0-9a-f]{64}$ h64'],
  // AI and ML services
  ['assemblyai', 'AssemblyAI', 'ai', 'assemblyai', 'h32'],
  ['deepgram', 'Deepgram', 'ai', 'deepgram', 'h40'],
  ['clarifai', 'Clarifai', 'ai', 'clarifai', 'h32'],
  ['ai21', 'AI21 Labs', 'ai', 'ai21', 'a32'],
  ['nlpcloud', 'NLP Cloud', 'ai', 'nlpcloud', 'h40'],
  ['speechmatics', 'Speechmatics', 'ai', 'speechmatics', 'a32'],
  ['comet', 'Comet ML', 'ai', 'comet cometml', 'a25'],
  ['roboflow', 'Roboflow', 'ai', 'roboflow', 'a20'],
  ['stabilityai', 'Stability AI', 'ai', 'stability stabilityai', 're:^sk-[A-Za-z0-9]{48}$'],
  ['jina', 'Jina AI', 'ai', 'jina', 're:^jina_[A-Za-z0-9_-]{60}$'],
  ['scaleai', 'Scale AI', 'ai', 'scaleai', 're:^live_[0-9a-f]{32}$'],
  ['baseten', 'Baseten', 'ai', 'baseten', 're:^[A-Za-z0-9]{8}\\.[A-Za-z0-9]{32}$'],
  ['unstructured', 'Unstructured', 'ai', 'unstructured', 'a30'],
  ['llamacloud', 'LlamaCloud (LlamaParse)', 'ai', 'llamacloud llamaparse llama', 're:^llx-[A-Za-z0-9]{48}$'],
  ['mem0', 'Mem0', 'ai', 'mem0', 're:^m0-[A-Za-z0-9]{40}$'],
  ['exa', 'Exa', 'ai', 'exa', 'u'],
  ['picovoice', 'Picovoice', 'ai', 'picovoice', 're:^[A-Za-z0-9+/]{54,56}==$'],
  ['deepl', 'DeepL', 'ai', 'deepl', 're:^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?::fx)?$'],
  ['rapidapi', 'RapidAPI', 'ai', 'rapidapi', 'a50'],
  ['playht', 'PlayHT', 'ai', 'playht', 'h32'],
  ['gladia', 'Gladia', 'ai', 'gladia', 'u'],
  ['voiceflow', 'Voiceflow', 'ai', 'voiceflow', 're:^VF\\.DM\\.[0-9a-f]{24}\\.[A-Za-z0-9]{16}$'], // docs: Voiceflow API reference "Authentication" (all API keys begin VF.DM.)
  // productivity, links, media, social
  ['trello', 'Trello', 'productivity', 'trello', 'h32 h64 re:^ATTA[A-Za-z0-9]{64,72}$'],
  ['asana', 'Asana', 'productivity', 'asana', 're:^[12]/[0-9]{10,20}(?:/[0-9]{10,20})?:[0-9a-f]{32}$'],
  ['todoist', 'Todoist', 'productivity', 'todoist', 'h40'],
  ['toggl', 'Toggl Track', 'productivity', 'toggl', 'h32'],
  ['smartsheet', 'Smartsheet', 'productivity', 'smartsheet', 'a26 a37'],
  ['shortcut', 'Shortcut (Clubhouse)', 'productivity', 'shortcut clubhouse', 'u', 'token apitoken'],
  ['pivotaltracker', 'Pivotal Tracker', 'productivity', 'pivotaltracker', 'h32'],
  ['youtrack', 'YouTrack', 'productivity', 'youtrack', 're:^perm:[A-Za-z0-9+/=.-]{20,120}$'],
  ['jotform', 'Jotform', 'productivity', 'jotform', 'h32'],
  ['ifttt', 'IFTTT', 'productivity', 'ifttt', 'w22 w43'],
  ['bitly', 'Bitly', 'productivity', 'bitly', 'h40'],
  ['rebrandly', 'Rebrandly', 'productivity', 'rebrandly', 'h32'],
  ['vimeo', 'Vimeo', 'media', 'vimeo', 'h32'],
  ['twitch', 'Twitch', 'media', 'twitch', 'l30'],
  ['spotify', 'Spotify', 'media', 'spotify', 'h32'],
  ['giphy', 'GIPHY', 'media', 'giphy', 'a32'],
  ['unsplash', 'Unsplash', 'media', 'unsplash', 'w43'],
  ['pexels', 'Pexels', 'media', 'pexels', 'a56'],
  ['pixabay', 'Pixabay', 'media', 'pixabay', 're:^\\d{7,9}-[0-9a-f]{25}$'],
  ['tmdb', 'TMDB', 'media', 'tmdb themoviedb', 'h32'],
  ['newsapi', 'NewsAPI', 'media', 'newsapi', 'h32'],
  ['nytimes', 'New York Times', 'media', 'nytimes nyt', 'a32'],
  ['guardian', 'The Guardian Open Platform', 'media', 'guardian', 'u'],
  ['rawg', 'RAWG', 'media', 'rawg', 'h32'],
  ['lastfm', 'Last.fm', 'media', 'lastfm', 'h32'],
  ['nasa', 'NASA Open APIs', 'media', 'nasa', 'a40'],
  ['steam', 'Steam Web API', 'media', 'steam', 'H32'],
  ['riotgames', 'Riot Games', 'media', 'riot riotgames', 're:^RGAPI-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'],
  ['reddit', 'Reddit', 'social', 'reddit', 'w27 w30'],
  ['linkedin', 'LinkedIn', 'social', 'linkedin', 'a16'],
  ['twitter', 'X (Twitter) consumer key', 'social', 'twitter', 'a25 a50'],
  // security and threat intelligence
  ['shodan', 'Shodan', 'threat-intel', 'shodan', 'a32'],
  ['virustotal', 'VirusTotal', 'threat-intel', 'virustotal', 'h64'],
  ['hibp', 'Have I Been Pwned', 'threat-intel', 'hibp haveibeenpwned', 'h32'],
  ['securitytrails', 'SecurityTrails', 'threat-intel', 'securitytrails', 'a32'],
  ['censys', 'Censys', 'threat-intel', 'censys', 'a32 u'],
  ['urlscan', 'urlscan.io', 'threat-intel', 'urlscan', 'u'],
  ['abuseipdb', 'AbuseIPDB', 'threat-intel', 'abuseipdb', 'h80'],
  ['alienvault', 'AlienVault OTX', 'threat-intel', 'alienvault otx', 'h64'],
  ['hybridanalysis', 'Hybrid Analysis', 'threat-intel', 'hybridanalysis', 'a64'],
  ['binaryedge', 'BinaryEdge', 'threat-intel', 'binaryedge', 'u'],
  ['ipqualityscore', 'IPQualityScore', 'threat-intel', 'ipqualityscore ipqs', 'a32'],
  ['recaptcha', 'Google reCAPTCHA secret', 'threat-intel', 'recaptcha', 're:^6L[A-Za-z0-9_-]{38}$', 'secret secretkey'],
  ['hcaptcha', 'hCaptcha secret', 'threat-intel', 'hcaptcha', 're:^0x[0-9a-fA-F]{40}$', 'secret secretkey'],
  ['turnstile', 'Cloudflare Turnstile secret', 'threat-intel', 'turnstile', 're:^0x4AAAAAAA[A-Za-z0-9_-]{22,26}$', 'secret secretkey'],
  // identity
  ['auth0', 'Auth0', 'auth', 'auth0', 'w64'],
  ['onelogin', 'OneLogin', 'auth', 'onelogin', 'h64'],
  ['clerk', 'Clerk', 'auth', 'clerk', 're:^sk_(?:live|test)_[A-Za-z0-9]{40,50}$'],
  ['workos', 'WorkOS', 'auth', 'workos', 're:^sk_[A-Za-z0-9]{40,70}$'],
  ['keycloak', 'Keycloak client secret', 'auth', 'keycloak', 'a32'],
  ['ory', 'Ory', 'auth', 'ory', 're:^ory_(?:pat|apikey)_[A-Za-z0-9]{32,64}$'],
  ['jumpcloud', 'JumpCloud', 'auth', 'jumpcloud', 'h40'],
  ['duo', 'Duo Security', 'auth', 'duo duosecurity', 'a40'],
  // fourth round: services with a prefixed rule elsewhere whose other (or earlier) credentials have none
  // docs: Cloudflare "Get Global API key (legacy)" (new and rolled global keys are cfk_, a rule of their own; the legacy 37 hex stay here)
  ['cloudflare', 'Cloudflare API token or global API key', 'cloud', 'cloudflare cf', 'h37 w40'],
  ['alibaba', 'Alibaba Cloud AccessKey secret', 'cloud', 'alibaba alibabacloud aliyun alicloud', 'a30'],
  ['tencent', 'Tencent Cloud SecretKey', 'cloud', 'tencent tencentcloud qcloud', 'a32'],
  ['huawei', 'Huawei Cloud access key', 'cloud', 'huawei huaweicloud', 'U20 a40'],
  ['ibmcloud', 'IBM Cloud API key', 'cloud', 'ibm ibmcloud bluemix', 'w44'],
  ['meraki', 'Cisco Meraki API key', 'cloud', 'meraki', 'h40'],
  ['heroku', 'Heroku API key (earlier format)', 'cloud', 'heroku', 'u'],
  ['digitalocean', 'DigitalOcean token (earlier format)', 'cloud', 'digitalocean', 'h64'],
  ['confluent', 'Confluent Cloud API key or secret', 'database', 'confluent ccloud', 'U16 b64'],
  ['mongodbatlas', 'MongoDB Atlas API private key', 'database', 'mongodbatlas atlas', 'u'],
  ['consul', 'Consul ACL token', 'ci', 'consul', 'u'],
  ['nomad', 'Nomad ACL token', 'ci', 'nomad', 'u'],
  ['jenkins', 'Jenkins API token', 'ci', 'jenkins', 're:^11[0-9a-f]{32}$'],
  ['circleci', 'CircleCI API token (earlier format)', 'ci', 'circleci', 'h40'],
  ['artifactory', 'JFrog Artifactory API key or identity token', 'ci', 'artifactory jfrog', 'a64'],
  ['sourcegraph', 'Sourcegraph access token (earlier format)', 'ci', 'sourcegraph', 'h40'],
  ['sentry', 'Sentry auth token (earlier format)', 'observability', 'sentry', 'h64'],
  ['azureopenai', 'Azure OpenAI key', 'ai', 'azureopenai aoai', 'h32'],
  ['crowdstrike', 'CrowdStrike Falcon API client secret', 'threat-intel', 'crowdstrike falcon', 'a40'],
  ['zulip', 'Zulip API key', 'messaging', 'zulip', 'a32'],
  ['gitter', 'Gitter access token', 'messaging', 'gitter', 'h40'],
  ['discord', 'Discord client secret', 'messaging', 'discord', 'w32'],
  ['beamer', 'Beamer API key', 'marketing', 'beamer', 're:^b_[A-Za-z0-9=_-]{44}$'],
  ['eventbrite', 'Eventbrite private token', 'marketing', 'eventbrite', 'U20'],
  ['hubspot', 'HubSpot API key (earlier format)', 'crm', 'hubspot', 'u'],
  ['shopify', 'Shopify API secret (earlier format)', 'payments', 'shopify', 'h32'],
  ['squarespace', 'Squarespace API key', 'payments', 'squarespace', 'u'],
  ['plaid', 'Plaid secret', 'finance', 'plaid', 'h30'],
  ['finicity', 'Finicity (Mastercard Open Banking) app key or secret', 'finance', 'finicity', 'h32 a20'],
  ['freshbooks', 'FreshBooks access token', 'finance', 'freshbooks', 'a64 h64'],
  ['looker', 'Looker API client secret', 'analytics', 'looker', 'a24'],
  ['airtable', 'Airtable API key (earlier format)', 'productivity', 'airtable', 're:^key[A-Za-z0-9]{14}$'],
  ['zoom', 'Zoom client secret', 'productivity', 'zoom', 'a32'],
  ['linear', 'Linear OAuth client secret', 'productivity', 'linear', 'h32'],
  ['contentful', 'Contentful delivery or management token', 'cms', 'contentful', 'w43'],
  ['dropbox', 'Dropbox app secret', 'storage', 'dropbox', 'l15'],
  ['facebook', 'Facebook app secret', 'social', 'facebook fb', 'h32'],
  ['instagram', 'Instagram app secret', 'social', 'instagram', 'h32'],
  ['flickr', 'Flickr API key or secret', 'media', 'flickr', 'h32 h16'],
  ['imgur', 'Imgur client secret', 'media', 'imgur', 'h40'],
  ['yelp', 'Yelp Fusion API key', 'search', 'yelp', 're:^[A-Za-z0-9_-]{128}$'],
  // fifth round (TruffleHog's pattern tests, read locally): shapes seen only there, kept exact
  ['thousandeyes', 'Cisco ThousandEyes', 'observability', 'thousandeyes', 'a32'],
  ['codemagic', 'Codemagic', 'ci', 'codemagic', 'w43'],
  ['testingbot', 'TestingBot', 'ci', 'testingbot', 'l32'],
  ['ringcentral', 'RingCentral', 'sms', 'ringcentral', 'w22'],
  ['thinkific', 'Thinkific', 'productivity', 'thinkific', 'h32'],
];

const UUID_SHAPE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function shape(code: string): RegExp {
  if (code === 'u') return UUID_SHAPE;
  if (code.startsWith('re:')) return new RegExp(code.slice(3));
  const m = /^([hHaUlwb])(\d+)(?:-(\d+))?$/.exec(code);
  if (!m) throw new Error(`named provider table: bad shape ${code}`);
  const cls = { h: '0-9a-f', H: '0-9A-F', a: 'A-Za-z0-9', U: 'A-Z0-9', l: 'a-z0-9', w: 'A-Za-z0-9_-', b: 'A-Za-z0-9+/' }[m[1]!]!;
  return new RegExp(`^[${cls}]{${m[2]}${m[3] ? `,${m[3]}` : ''}}$`);
}

export const NAMED_PROVIDERS: readonly NamedProvider[] = TABLE.map(([slug, display, category, names, shapes, last]) => ({
  slug,
  display,
  category,
  names: names.split(' '),
  codes: shapes.split(' '),
  ...(last ? { lastWords: last.split(' ') } : {}),
}));

const COMPILED = new Map<NamedProvider, RegExp[]>();

/** A provider's shapes as regexes, compiled the first time one of its names is seen (startup stays cheap). */
export function shapesOf(p: NamedProvider): RegExp[] {
  let r = COMPILED.get(p);
  if (!r) COMPILED.set(p, (r = p.codes.map(shape)));
  return r;
}

const BY_NAME = new Map<string, NamedProvider>();
for (const p of NAMED_PROVIDERS) for (const n of p.names) if (!BY_NAME.has(n)) BY_NAME.set(n, p);

/** A name's last word that says it holds a secret (also run together: `apikey`, `clientsecret`); `skey` is Duo's secret key (`skey =` in duo_unix's login_duo.conf, `DUO_SKEY`). */
const SECRET_LAST =
  /^(?:api|access|auth|secret|private|client|app|application|master|admin|server|rest|write|read|service|bot|bearer|signing|session|license|sdk|integration|account|user|personal|management|deploy|project|ingest|webhook|consumer|oauth)?(?:key|token|secret|password|passwd|pwd|pat|creds?|credentials?)$|^skey$/;
/** A word run together from a provider's name and a secret word: `mailgunkey`, `datadogapikey`. */
const SUFFIXES = ['apikey', 'apisecret', 'apitoken', 'accesstoken', 'authtoken', 'secretkey', 'accesskey', 'key', 'token', 'secret'];
/** Words that make the name something other than a live secret. */
const NOT_SECRET = new Set(['public', 'publishable', 'pub', 'site', 'hash', 'hashed', 'sha', 'md5', 'digest', 'fingerprint', 'checksum', 'example', 'sample', 'fake', 'dummy', 'mock', 'placeholder', 'invalid', 'redacted', 'masked', 'id', 'url', 'uri', 'endpoint', 'host', 'name', 'file', 'path', 'env', 'header', 'param', 'length', 'len', 'size', 'prefix', 'format', 'pattern', 'regex', 'type']);

/** Words before a last `key` that make it a key of something else (`cache_key`, `sort_key`, `request_key`). */
const KEY_OF_SOMETHING = new Set(['cache', 'sort', 'primary', 'foreign', 'partition', 'row', 'range', 'lookup', 'map', 'dict', 'index', 'unique', 'idempotency', 'dedup', 'etag', 'content', 'object', 'bucket', 'route', 'routing', 'shard', 'group', 'correlation', 'request', 'trace', 'span', 'metric', 'label', 'message', 'translation', 'i18n', 'locale', 'field', 'column', 'table', 'json', 'config', 'react', 'component', 'item', 'list', 'node', 'entry', 'attribute', 'property', 'element', 'event', 'state', 'query', 'filter', 'cursor', 'page', 'version', 'sequence', 'hot', 'shortcut', 'storage', 'lock', 'dedupe', 'kid', 'jwks']);

interface NameHit {
  provider: NamedProvider;
  /** The secret word is the provider's word itself (`mailgunKey` run together as one word). */
  secretInWord: boolean;
}

/** Providers named by the words (a word, or two or three words run together: `campaign monitor`). */
function providersIn(words: readonly string[]): NameHit[] {
  const out: NameHit[] = [];
  for (let i = 0; i < words.length; i++) {
    let joined = '';
    for (let j = i; j < words.length && j < i + 3; j++) {
      joined += words[j]!;
      const p = BY_NAME.get(joined);
      if (p) out.push({ provider: p, secretInWord: false });
    }
    const w = words[i]!;
    for (const s of SUFFIXES) {
      if (w.length > s.length && w.endsWith(s)) {
        const p = BY_NAME.get(w.slice(0, -s.length));
        if (p) out.push({ provider: p, secretInWord: i === words.length - 1 });
      }
    }
  }
  return out;
}

/** A YAML/JSON/HCL key that opens a block (`mailgun:`, `"mailgun": {`, `mailgun {`), or an INI/TOML section. */
const PARENT = /^[ \t]*(?:\[[ \t]*([A-Za-z][A-Za-z0-9_.-]{0,63})[ \t]*\]|["']?([A-Za-z][A-Za-z0-9_.-]{0,63})["']?[ \t]*(?::[ \t]*\{?|=[ \t]*\{|\{))[ \t]*$/;

/**
 * The words of the key that holds the assignment at `at` in a config file: the nearest line
 * above, less indented, that opens a block (or the INI/TOML section it is in). Looks at most 8
 * lines and 800 characters back; comments and blank lines are skipped.
 */
export function parentWords(text: string, at: number): string[] | null {
  // Every search is bounded (800 characters back): a long line is no config file, and an
  // unbounded search per assignment would be quadratic on one huge line.
  const floor = Math.max(0, at - 800);
  const startOf = (i: number): number => {
    while (i > floor && text.charCodeAt(i - 1) !== 10) i--;
    return i === floor && floor > 0 ? -1 : i;
  };
  const indentOf = (s: number) => {
    let i = s;
    while (i < at && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
    return i - s;
  };
  let lineStart = startOf(at);
  if (lineStart < 0) return null;
  const indent = indentOf(lineStart);
  for (let n = 0; n < 8 && lineStart > floor; n++) {
    const end = lineStart - 1;
    const start = startOf(end);
    if (start < 0) return null;
    lineStart = start;
    const line = text.slice(start, end).replace(/\r$/, '');
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith('//') || t.startsWith(';')) continue;
    const m = PARENT.exec(line);
    const own = indentOf(start);
    if (m && m[1] !== undefined) return splitWords(m[1]);
    if (own < indent) return m && m[2] !== undefined ? splitWords(m[2]) : null;
  }
  return null;
}

function generated(v: string, code: string): boolean {
  // A fixed part of a format may repeat a character (`0x4AAAAAAA`): runs count in free-form shapes only.
  if (!code.startsWith('re:') && longestRun(v) >= 6) return false;
  if (code === 'u') {
    const hex = v.replace(/-/g, '');
    return /[a-fA-F]/.test(hex) && /[0-9]/.test(hex) && shannon(hex) >= 3;
  }
  const c = charClasses(v);
  if (c.digit === 0 && v.length >= 12 && !code.startsWith('re:')) return false;
  if (code[0] === 'h' || code[0] === 'H') return (c.lower + c.upper) > 0 && shannon(v) >= (v.length >= 20 ? 3 : 2.5);
  return shannon(v) >= (v.length >= 20 ? 3.3 : v.length >= 12 ? 2.8 : 2.4);
}

/** Every character any shape of the table allows, 8 to 260 of them. */
const VALUE_CHARS = /^[A-Za-z0-9_+/=.:!*-]{8,260}$/;

/** The provider whose credential this assignment is, if any. */
export function namedProviderOf(a: Assignment, ctx: RuleContext): NamedProvider | null {
  // The value first (cheapest): a token's characters only, and some variety.
  if (a.bearer || !VALUE_CHARS.test(a.value) || shannon(a.value) < 2.4) return null;
  const words = a.words;
  if (words.length === 0 || words.length > 8 || words.some((w) => NOT_SECRET.has(w))) return null;
  let hits = providersIn(words);
  const last = words[words.length - 1]!;
  if (last === 'key' && words.length >= 2 && KEY_OF_SOMETHING.has(words[words.length - 2]!)) return null;
  const lastSecret = SECRET_LAST.test(last);
  if (hits.length === 0) {
    // `api_key:` under `mailgun:`: the provider is the key of the block (config files only).
    if (!lastSecret || words.length > 3) return null;
    const parent = parentWords(ctx.text, a.start);
    if (!parent || parent.some((w) => NOT_SECRET.has(w))) return null;
    hits = providersIn(parent).map((h) => ({ ...h, secretInWord: false }));
  }
  for (const h of hits) {
    const p = h.provider;
    if (p.lastWords ? !p.lastWords.includes(last) && !(h.secretInWord && p.lastWords.some((w) => last.endsWith(w))) : !lastSecret && !h.secretInWord) continue;
    const shapes = shapesOf(p);
    for (let i = 0; i < shapes.length; i++) {
      if (shapes[i]!.test(a.value) && generated(a.value, p.codes[i]!)) return p;
    }
  }
  return null;
}

let lastAssignment: Assignment | null = null;
let lastProvider: NamedProvider | null = null;

/** One lookup per assignment, whichever provider's rule asks first. */
function cachedProviderOf(a: Assignment, ctx: RuleContext): NamedProvider | null {
  if (a !== lastAssignment) {
    lastAssignment = a;
    lastProvider = namedProviderOf(a, ctx);
  }
  return lastProvider;
}

export const namedAssignmentRules: AssignmentRule[] = NAMED_PROVIDERS.map((p) => ({
  id: `${p.slug}-credential`,
  description: `${p.display} API key or secret (by name)`,
  severity: 'high' as const,
  tags: ['named', p.category],
  priority: 55,
  judge: (a: Assignment, ctx: RuleContext) => cachedProviderOf(a, ctx) === p,
}));
