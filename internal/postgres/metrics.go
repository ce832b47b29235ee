package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports the connection pool's statistics to Prometheus.
func (db *DB) PoolCollector() prometheus.Collector { return &poolCollector{pool: db.Pool} }

type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolTotalDesc    = prometheus.NewDesc("booking_db_pool_total_conns", "Connections in the pool (idle, acquired and being built).", nil, nil)
	poolIdleDesc     = prometheus.NewDesc("booking_db_pool_idle_conns", "Idle connections in the pool.", nil, nil)
	poolAcquiredDesc = prometheus.NewDesc("booking_db_pool_acquired_conns", "Connections in use.", nil, nil)
	poolMaxDesc      = prometheus.NewDesc("booking_db_pool_max_conns", "Maximum size of the pool.", nil, nil)
	poolAcquireDesc  = prometheus.NewDesc("booking_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolWaitDesc     = prometheus.NewDesc("booking_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	poolWaitSecDesc  = prometheus.NewDesc("booking_db_pool_acquire_seconds_total", "Time spent acquiring connections.", nil, nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolTotalDesc, poolIdleDesc, poolAcquiredDesc, poolMaxDesc, poolAcquireDesc, poolWaitDesc, poolWaitSecDesc} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(poolTotalDesc, float64(s.TotalConns()))
	gauge(poolIdleDesc, float64(s.IdleConns()))
	gauge(poolAcquiredDesc, float64(s.AcquiredConns()))
	gauge(poolMaxDesc, float64(s.MaxConns()))
	counter(poolAcquireDesc, float64(s.AcquireCount()))
	counter(poolWaitDesc, float64(s.EmptyAcquireCount()))
	counter(poolWaitSecDesc, s.AcquireDuration().Seconds())
}
