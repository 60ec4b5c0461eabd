-- Clients negotiating old TLS versions (NULL: nothing negotiated)
SELECT `tls.version`, COUNT(*) AS connections
FROM `logs-nlb-*`
GROUP BY `tls.version`;
