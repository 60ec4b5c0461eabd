-- Top client IPs by connection count over the searched indices
SELECT `source.ip`, COUNT(*) AS connections
FROM `logs-nlb-*`
GROUP BY `source.ip`
ORDER BY connections DESC
LIMIT 25;
