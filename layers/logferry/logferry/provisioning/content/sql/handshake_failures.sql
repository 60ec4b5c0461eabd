-- Handshake failures (no protocol negotiated), often scanners
SELECT `@timestamp`, `source.ip`, `aws.elb.incoming_tls_alert`
FROM `logs-nlb-*`
WHERE `tls.established` = false
ORDER BY `@timestamp` DESC
LIMIT 100;
